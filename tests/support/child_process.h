// Child processes for tests and benchmarks (no test framework here: the benchmarks use it too):
// start a binary with its output redirected, wait for derpd's "ready" line, stop a child.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace derp::testing {

// fork + execv of `binary` with `args` (argv[0] is added). stdout and stderr go to the given
// descriptors (-1 leaves them alone); `in_child` runs in the child just before exec (e.g. setuid).
// An exec failure exits the child with 127.
pid_t spawn_child(const std::string& binary, const std::vector<std::string>& args, int stdout_fd,
                  int stderr_fd, const std::function<void()>& in_child = {});

// Sends `sig`, waits up to `grace` for the child to exit, then SIGKILLs it. Returns the wait
// status and sets `pid` to -1; does nothing (returns 0) when pid <= 0.
int stop_child(pid_t& pid, int sig, std::chrono::milliseconds grace);

// What derpd prints on stdout once it serves: "derpd ready: DERP on URL[, STUN udp ADDR:PORT]".
struct DerpdReady {
  std::string derp_url;
  std::uint16_t port = 0;
  std::uint16_t stun_port = 0;  // 0 when STUN is off
};

// Starts derpd with stderr appended to `log_path` and reads its stdout until the ready line.
// Throws std::runtime_error when it exits first or is not ready within `timeout` (the child is
// stopped then). On success `pid` and `stdout_fd` (still open, owned by the caller) are set.
// `in_child` as for spawn_child.
DerpdReady launch_derpd(const std::string& binary, const std::vector<std::string>& args,
                        const std::string& log_path, std::chrono::milliseconds timeout, pid_t& pid,
                        int& stdout_fd, const std::function<void()>& in_child = {});

}  // namespace derp::testing
