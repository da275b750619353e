#include "relay/systemd/notifier.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace derp::systemd {

Notifier::Notifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  std::uint64_t usec = 0;
  // Checks WATCHDOG_PID against our pid, so a watchdog meant for a parent is not ours.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_ = std::chrono::microseconds(usec);
  if (enabled_) {
    spdlog::info(
        "systemd: notify socket found{}",
        watchdog_ ? ", watchdog every " + std::to_string(watchdog_->count() / 1000) + " ms" : "");
  }
}

void Notifier::send(const std::string& message) {
  if (!enabled_) return;
  int r = sd_notify(0, message.c_str());
  // Failing to notify is worth one line, not a stop: the relay still works.
  if (r < 0) {
    static bool warned = false;
    if (!warned) spdlog::warn("systemd: sd_notify failed: {}", std::strerror(-r));
    warned = true;
  }
}

std::string status_assignment(std::string_view status) {
  std::string out = "STATUS=";
  for (char c : status) out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

void Notifier::ready(std::string_view status) {
  last_status_ = std::string(status);
  send("READY=1\n" + status_assignment(status));
}

void Notifier::status(std::string_view status) {
  if (status == last_status_) return;
  last_status_ = std::string(status);
  send(status_assignment(status));
}

void Notifier::stopping(std::string_view status) {
  last_status_ = std::string(status);
  send("STOPPING=1\n" + status_assignment(status));
}

void Notifier::extend_timeout(std::chrono::microseconds extra) {
  send("EXTEND_TIMEOUT_USEC=" + std::to_string(extra.count()));
}

void Notifier::watchdog() {
  if (watchdog_) send("WATCHDOG=1");
}

}  // namespace derp::systemd
