// derpd's side of systemd's Type=notify protocol (sd_notify(3)): READY=1 once every listener is
// bound, STATUS= lines for `systemctl status`, STOPPING=1 and EXTEND_TIMEOUT_USEC= while a
// shutdown drain runs, and WATCHDOG=1 keep-alives. Outside systemd (no NOTIFY_SOCKET) every call
// does nothing, so the node's code calls it unconditionally.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace derp::systemd {

class Notifier {
 public:
  Notifier();  // reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID once

  bool enabled() const { return enabled_; }
  void ready(std::string_view status);
  // Sends STATUS= only when the text changed since the last one sent.
  void status(std::string_view status);
  void stopping(std::string_view status);
  // Asks systemd for `extra` more time before it kills a stopping (or starting) service.
  void extend_timeout(std::chrono::microseconds extra);
  // How often systemd expects WATCHDOG=1 (WatchdogSec=); nullopt when the watchdog is off.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }
  void watchdog();

 private:
  void send(const std::string& message);

  bool enabled_ = false;
  std::optional<std::chrono::microseconds> watchdog_;
  std::string last_status_;
};

// One line for STATUS=: newlines would start a new assignment, so they become spaces.
std::string status_assignment(std::string_view status);

}  // namespace derp::systemd
