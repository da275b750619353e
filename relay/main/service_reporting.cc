#include "relay/main/service_reporting.h"

#include <spdlog/spdlog.h>

#include "relay/server/worker_liveness.h"

namespace derp::main {

namespace {
constexpr std::chrono::seconds kStatusEvery{2};
// What systemd is asked to wait beyond the drain's own deadline: the last closes and the exit.
constexpr std::chrono::seconds kStopSlack{5};
}  // namespace

ServiceReporting::ServiceReporting(boost::asio::io_context& control, server::Server& server,
                                   FactsFn facts)
    : server_(server), facts_(std::move(facts)), status_timer_(control), watchdog_timer_(control) {}

void ServiceReporting::ready() {
  if (!notifier_.enabled()) return;
  notifier_.ready(systemd::status_line(facts_()));
  arm_status();
  if (notifier_.watchdog_interval()) {
    notifier_.watchdog();
    arm_watchdog();
  }
}

void ServiceReporting::shutting_down(std::chrono::milliseconds grace) {
  if (!notifier_.enabled()) return;
  shutting_down_ = true;
  shutdown_deadline_ = std::chrono::steady_clock::now() + grace;
  auto facts = facts_();
  facts.shutting_down = true;
  notifier_.stopping(systemd::status_line(facts));
  notifier_.extend_timeout(std::chrono::duration_cast<std::chrono::microseconds>(grace) +
                           kStopSlack);
}

void ServiceReporting::stop() {
  status_timer_.cancel();
  watchdog_timer_.cancel();
}

void ServiceReporting::send_status() {
  auto facts = facts_();
  facts.shutting_down = shutting_down_;
  notifier_.status(systemd::status_line(facts));
  if (shutting_down_) {
    // Renewed on every status: systemd then waits as long as the drain may still take.
    auto left = shutdown_deadline_ - std::chrono::steady_clock::now();
    if (left < std::chrono::steady_clock::duration::zero()) left = {};
    notifier_.extend_timeout(std::chrono::duration_cast<std::chrono::microseconds>(left) +
                             kStopSlack);
  }
}

void ServiceReporting::arm_status() {
  status_timer_.expires_after(kStatusEvery);
  status_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    send_status();
    arm_status();
  });
}

void ServiceReporting::arm_watchdog() {
  // Half the interval, as sd_watchdog_enabled(3) advises, so one late timer is not a restart.
  watchdog_timer_.expires_after(*notifier_.watchdog_interval() / 2);
  watchdog_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    // The control loop turns (this timer fired); the workers must too.
    if (auto stalled = server::find_stalled_worker(server_, std::chrono::steady_clock::now())) {
      if (!stalled_logged_) {
        spdlog::error(
            "worker {} has not turned for {} ms: withholding the systemd watchdog keep-alive, so "
            "systemd restarts the node if it stays stuck",
            stalled->index, stalled->since_last_tick.count());
        stalled_logged_ = true;
      }
    } else {
      if (stalled_logged_) spdlog::info("every worker turns again: watchdog keep-alive resumed");
      stalled_logged_ = false;
      notifier_.watchdog();
    }
    arm_watchdog();
  });
}

}  // namespace derp::main
