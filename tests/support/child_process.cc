#include "tests/support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <regex>
#include <stdexcept>

namespace derp::testing {

pid_t spawn_child(const std::string& binary, const std::vector<std::string>& args, int stdout_fd,
                  int stderr_fd, const std::function<void()>& in_child) {
  // Built before fork: the child only calls async-signal-safe functions.
  std::vector<std::string> argv_storage{binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (stdout_fd >= 0) ::dup2(stdout_fd, STDOUT_FILENO);
    if (stderr_fd >= 0) ::dup2(stderr_fd, STDERR_FILENO);
    if (in_child) in_child();
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

namespace {
// A child that ignores its stop signal is a hang worth a stack: without one a rare CI failure
// says only "status 9". Uses gdb when it is installed; the output goes to the test's stderr.
void print_stacks(pid_t pid) {
  if (::access("/usr/bin/gdb", X_OK) != 0) return;
  std::fprintf(stderr, "child %d did not stop in time; its threads:\n", static_cast<int>(pid));
  std::fflush(stderr);
  const std::string pid_text = std::to_string(pid);
  pid_t gdb =
      spawn_child("/usr/bin/gdb", {"-p", pid_text, "-batch", "-nx", "-ex", "thread apply all bt"},
                  STDERR_FILENO, STDERR_FILENO);
  int status = 0;
  ::waitpid(gdb, &status, 0);
  // What it still holds open: a hang on stop is usually a socket or timer nobody closed.
  // (A timerfd's fdinfo shows when its next timer fires.)
  const std::string list = "cd /proc/" + pid_text + " && ls -l fd && grep -H it_value fdinfo/*; " +
                           "ss -tanp | grep 'pid=" + pid_text + ",'";
  pid_t sh = spawn_child("/bin/sh", {"-c", list}, STDERR_FILENO, STDERR_FILENO);
  ::waitpid(sh, &status, 0);
}
}  // namespace

int stop_child(pid_t& pid, int sig, std::chrono::milliseconds grace) {
  if (pid <= 0) return 0;
  ::kill(pid, sig);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return status;
    }
    ::usleep(10000);
  }
  print_stacks(pid);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  pid = -1;
  return status;
}

DerpdReady launch_derpd(const std::string& binary, const std::vector<std::string>& args,
                        const std::string& log_path, std::chrono::milliseconds timeout, pid_t& pid,
                        int& stdout_fd, const std::function<void()>& in_child) {
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) throw std::runtime_error("cannot open derpd's log file " + log_path);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(log_fd);
    throw std::runtime_error("pipe failed");
  }
  pid = spawn_child(binary, args, out[1], log_fd, in_child);
  ::close(out[1]);
  ::close(log_fd);
  auto fail = [&](const std::string& why) {
    ::close(out[0]);
    int status = stop_child(pid, SIGKILL, std::chrono::seconds(10));
    throw std::runtime_error("derpd " + why + " (status " + std::to_string(status) +
                             "; log: " + log_path + ")");
  };

  static const std::regex ready(
      R"(derpd ready: DERP on (\S+?//[^ ,]*:(\d+)/derp)(?:, STUN udp \S*:(\d+))?)");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string seen;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) fail("was not ready in time");
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[512];
    ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) fail("exited before it was ready");
    seen.append(buf, static_cast<std::size_t>(n));
    std::smatch m;
    if (std::regex_search(seen, m, ready)) {
      DerpdReady r;
      r.derp_url = m[1];
      r.port = static_cast<std::uint16_t>(std::stoi(m[2]));
      if (m[3].matched) r.stun_port = static_cast<std::uint16_t>(std::stoi(m[3]));
      stdout_fd = out[0];
      return r;
    }
  }
}

}  // namespace derp::testing
