#include "tests/support/derpd_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace derp::testing {

std::string DerpdProcess::binary() {
  const char* dir = std::getenv("DERP_BIN_DIR");
  if (!dir || !*dir) throw std::runtime_error("DERP_BIN_DIR is not set (run the test via ctest)");
  return std::string(dir) + "/derpd";
}

DerpdProcess::DerpdProcess(std::vector<std::string> args, std::chrono::seconds timeout) {
  // Test nodes run side by side: none takes the host's default admin socket unless asked to.
  if (std::find(args.begin(), args.end(), "--admin-socket") == args.end()) {
    args.insert(args.end(), {"--admin-socket", "off"});
  }
  char log_template[] = "/tmp/derpd-test-log-XXXXXX";
  int log_fd = ::mkstemp(log_template);
  if (log_fd < 0) throw std::runtime_error("cannot create a log file");
  log_path_ = log_template;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::string bin = binary();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(log_fd);
  stdout_fd_ = out[0];

  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string seen;
  static const std::regex ready(
      R"(derpd ready: DERP on (\S+?//[^ ,]*:(\d+)/derp)(?:, STUN udp \S*:(\d+))?)");
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      stop(SIGKILL);
      throw std::runtime_error("derpd was not ready in time; log:\n" + log());
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[512];
    ssize_t n = ::read(stdout_fd_, buf, sizeof(buf));
    if (n <= 0) {
      int status = stop(SIGKILL);
      throw std::runtime_error("derpd exited before it was ready (status " +
                               std::to_string(status) + "); log:\n" + log());
    }
    seen.append(buf, static_cast<std::size_t>(n));
    std::smatch m;
    if (std::regex_search(seen, m, ready)) {
      derp_url_ = m[1];
      port_ = static_cast<std::uint16_t>(std::stoi(m[2]));
      if (m[3].matched) stun_port_ = static_cast<std::uint16_t>(std::stoi(m[3]));
      return;
    }
  }
}

DerpdProcess::~DerpdProcess() {
  bool running = pid_ > 0;
  int status = stop(SIGTERM);
  // A clean shutdown exits 0. Anything else (a sanitizer report, a crash, a hang killed after
  // 10 s) fails the test that owned this process.
  if (running && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    ADD_FAILURE() << "derpd did not shut down cleanly (status " << status << "); log:\n" << log();
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  if (!log_path_.empty()) ::unlink(log_path_.c_str());
}

std::string DerpdProcess::log() const {
  std::ifstream in(log_path_);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int DerpdProcess::stop(int sig) {
  if (pid_ <= 0) return 0;
  ::kill(pid_, sig);
  int status = 0;
  // A clean shutdown takes well under a second, a few seconds with thousands of clients under
  // sanitizers; after 30 s something is wrong: kill it for good (the destructor then fails).
  for (int i = 0; i < 3000; ++i) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return status;
    }
    ::usleep(10000);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

TempDir::TempDir() {
  char t[] = "/tmp/derpd-test-XXXXXX";
  if (!::mkdtemp(t)) throw std::runtime_error("mkdtemp failed");
  path_ = t;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace derp::testing
