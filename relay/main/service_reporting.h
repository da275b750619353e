// Keeps systemd informed while the node runs (relay/systemd): READY=1 once it serves, a STATUS=
// line every few seconds, the watchdog keep-alive only while every worker's loop turns, and
// STOPPING=1 with more stop time while a shutdown drain runs. Does nothing outside systemd.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>

#include "relay/systemd/notifier.h"
#include "relay/systemd/status_line.h"

namespace derp::server {
class Server;
}

namespace derp::main {

class ServiceReporting {
 public:
  using FactsFn = std::function<systemd::NodeStatusFacts()>;
  // Runs its timers on `control`, the node's control thread.
  ServiceReporting(boost::asio::io_context& control, server::Server& server, FactsFn facts);

  // Every listener is bound and the first certificate (if any) loaded.
  void ready();
  // SIGTERM: the drain that ends in an exit has begun and takes at most `grace`.
  void shutting_down(std::chrono::milliseconds grace);
  void stop();

 private:
  void arm_status();
  void arm_watchdog();
  void send_status();

  server::Server& server_;
  FactsFn facts_;
  systemd::Notifier notifier_;
  boost::asio::steady_timer status_timer_;
  boost::asio::steady_timer watchdog_timer_;
  bool shutting_down_ = false;
  std::chrono::steady_clock::time_point shutdown_deadline_;
  bool stalled_logged_ = false;
};

}  // namespace derp::main
