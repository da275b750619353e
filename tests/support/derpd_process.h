// Runs a real derpd process for a test: starts it with the given flags, waits for its "ready" line
// on stdout (which names the bound ports), and stops it with SIGTERM when the test ends.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace derp::testing {

// --mesh-with for node `self` of a region whose nodes listen on 127.0.0.1:ports[i] over plain
// HTTP: every other node, as "http://127.0.0.1:PORT,…".
inline std::string loopback_siblings(std::span<const std::uint16_t> ports, std::size_t self) {
  std::string siblings;
  for (std::size_t j = 0; j < ports.size(); ++j) {
    if (j == self) continue;
    if (!siblings.empty()) siblings += ",";
    siblings += "http://127.0.0.1:" + std::to_string(ports[j]);
  }
  return siblings;
}

// The flags of node `i` of a loopback test region: its port, no STUN, its own server key in
// `dir`, the region's mesh key (`dir`/mesh.key) and its admin socket. Siblings are the caller's.
inline std::vector<std::string> region_node_flags(const std::string& dir, std::uint16_t port, int i,
                                                  const std::string& admin_socket) {
  return {"-a",
          "127.0.0.1:" + std::to_string(port),
          "--stun=false",
          "-c",
          dir + "/node" + std::to_string(i) + ".key",
          "--mesh-psk-file",
          dir + "/mesh.key",
          "--admin-socket",
          admin_socket};
}

class DerpdProcess {
 public:
  // `args` are derpd's flags; tests pass "-a 127.0.0.1:0" and "--stun-port 0" so that parallel
  // tests never collide. Throws when derpd exits or is not ready within `timeout`.
  explicit DerpdProcess(std::vector<std::string> args,
                        std::chrono::seconds timeout = std::chrono::seconds(20));
  // `in_child` runs in the forked child before exec (e.g. to pass sockets the way systemd does:
  // tests/support/service_manager_sockets.h).
  DerpdProcess(std::vector<std::string> args, const std::function<void()>& in_child,
               std::chrono::seconds timeout = std::chrono::seconds(20));
  ~DerpdProcess();
  DerpdProcess(const DerpdProcess&) = delete;
  DerpdProcess& operator=(const DerpdProcess&) = delete;

  // "http://127.0.0.1:PORT/derp" (or https://) as printed by derpd.
  const std::string& derp_url() const { return derp_url_; }
  std::uint16_t port() const { return port_; }
  std::uint16_t stun_port() const { return stun_port_; }
  pid_t pid() const { return pid_; }
  // Everything derpd wrote to stderr so far (its log).
  std::string log() const;
  // The port of --metrics-listen 127.0.0.1:0, from derpd's log. Throws without one.
  std::uint16_t metrics_port() const;
  // Sends `sig` and waits for exit; returns the exit status as from waitpid.
  int stop(int sig = SIGTERM);
  // Whether the process has exited by itself (then reaped, its status in `status`); the
  // destructor then has nothing to stop.
  bool exited(int& status);
  void kill_hard() { stop(SIGKILL); }

  static std::string binary();  // $DERP_BIN_DIR/derpd

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string log_path_;
  std::string derp_url_;
  std::uint16_t port_ = 0;
  std::uint16_t stun_port_ = 0;
};

// A fresh temporary folder, removed with its contents at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace derp::testing
