// Runs the derpctl binary for a test and captures what it printed and its exit code, or keeps it
// running (clients --watch, drain) and reads its output line by line.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace derp::testing {

struct DerpctlResult {
  int exit_code = -1;
  std::string out, err;
};

inline std::string derpctl_binary() {
  const char* dir = std::getenv("DERP_BIN_DIR");
  if (!dir || !*dir) throw std::runtime_error("DERP_BIN_DIR is not set (run the test via ctest)");
  return std::string(dir) + "/derpctl";
}

class DerpctlProcess {
 public:
  // `as_uid`: run as this user (the test must be root), e.g. to see "permission denied".
  explicit DerpctlProcess(std::vector<std::string> args, std::optional<uid_t> as_uid = {}) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe failed");
    }
    pid_ = spawn_child(derpctl_binary(), args, out[1], err[1], [&] {
      if (as_uid && (::setgid(*as_uid) != 0 || ::setuid(*as_uid) != 0)) ::_exit(126);
    });
    ::close(out[1]);
    ::close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
  }
  ~DerpctlProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_fd_);
    ::close(err_fd_);
  }

  // The next stdout line, or nullopt when none came within `limit` (or stdout closed).
  std::optional<std::string> read_line(std::chrono::milliseconds limit) {
    return next_line(out_fd_, out_, limit);
  }
  // The same for stderr.
  std::optional<std::string> read_err_line(std::chrono::milliseconds limit) {
    return next_line(err_fd_, err_, limit);
  }

  // Waits for the exit (killing it after `limit`) and collects the rest of the output.
  DerpctlResult wait(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    DerpctlResult r;
    auto deadline = std::chrono::steady_clock::now() + limit;
    bool out_open = true, err_open = true;
    while (out_open || err_open) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        ::kill(pid_, SIGKILL);
        break;
      }
      pollfd p[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
      ::poll(p, 2, static_cast<int>(left.count()));
      if (out_open && (p[0].revents & (POLLIN | POLLHUP))) out_open = pump(out_fd_, out_, 0);
      if (err_open && (p[1].revents & (POLLIN | POLLHUP))) err_open = pump(err_fd_, err_, 0);
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = std::move(out_);
    r.err = std::move(err_);
    return r;
  }

  void interrupt() { ::kill(pid_, SIGINT); }

 private:
  static std::optional<std::string> next_line(int fd, std::string& buffered,
                                              std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto nl = buffered.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffered.substr(0, nl);
        buffered.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !pump(fd, buffered, static_cast<int>(left.count()))) {
        return std::nullopt;
      }
    }
  }

  // Reads what is available; false at end of file.
  static bool pump(int fd, std::string& into, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return true;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    into.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::string out_, err_;
};

inline DerpctlResult run_derpctl(std::vector<std::string> args, std::optional<uid_t> as_uid = {}) {
  DerpctlProcess p(std::move(args), as_uid);
  return p.wait();
}

}  // namespace derp::testing
