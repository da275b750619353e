#include "tests/support/derpd_process.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <regex>
#include <stdexcept>
#include <string_view>

#include "tests/support/child_process.h"

namespace derp::testing {

std::string DerpdProcess::binary() {
  const char* dir = std::getenv("DERP_BIN_DIR");
  if (!dir || !*dir) throw std::runtime_error("DERP_BIN_DIR is not set (run the test via ctest)");
  return std::string(dir) + "/derpd";
}

namespace {

bool has(const std::vector<std::string>& args, std::initializer_list<std::string_view> any) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
    return std::any_of(any.begin(), any.end(), [&](std::string_view f) { return a == f; });
  });
}

// Tests run in parallel: a node that binds a fixed port (port 80 beside TLS, STUN's 3478) makes
// them collide. Such a test is wrong; say so before it flakes.
void refuse_fixed_ports(const std::vector<std::string>& args) {
  const bool tls = has(args, {"--certmode", "-certmode"});
  if (tls && !has(args, {"--http-port", "-http-port"})) {
    throw std::logic_error(
        "test bug: a TLS derpd without --http-port binds port 80; pass --http-port -1 (or a "
        "free port)");
  }
  if (!has(args, {"--stun=false", "-stun=false", "--stun-port", "-stun-port"})) {
    throw std::logic_error(
        "test bug: derpd without --stun=false or --stun-port binds UDP 3478; pass --stun-port 0");
  }
}

}  // namespace

DerpdProcess::DerpdProcess(std::vector<std::string> args, std::chrono::seconds timeout)
    : DerpdProcess(std::move(args), {}, timeout) {}

DerpdProcess::DerpdProcess(std::vector<std::string> args, const std::function<void()>& in_child,
                           std::chrono::seconds timeout) {
  refuse_fixed_ports(args);
  // Test nodes run side by side: none takes the host's default admin socket unless asked to.
  if (std::find(args.begin(), args.end(), "--admin-socket") == args.end()) {
    args.insert(args.end(), {"--admin-socket", "off"});
  }
  char log_template[] = "/tmp/derpd-test-log-XXXXXX";
  int log_fd = ::mkstemp(log_template);
  if (log_fd < 0) throw std::runtime_error("cannot create a log file");
  ::close(log_fd);
  log_path_ = log_template;
  try {
    auto ready = launch_derpd(binary(), args, log_path_, timeout, pid_, stdout_fd_, in_child);
    derp_url_ = ready.derp_url;
    port_ = ready.port;
    stun_port_ = ready.stun_port;
  } catch (const std::runtime_error& e) {
    std::string text = std::string(e.what()) + "; log:\n" + log();
    ::unlink(log_path_.c_str());
    throw std::runtime_error(text);
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
  // A clean shutdown takes well under a second, a few seconds with thousands of clients under
  // sanitizers; after 30 s something is wrong: kill it for good (the destructor then fails).
  return stop_child(pid_, sig, std::chrono::seconds(30));
}

bool DerpdProcess::exited(int& status) {
  if (pid_ <= 0) return true;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
  pid_ = -1;
  return true;
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

std::uint16_t DerpdProcess::metrics_port() const {
  static const std::regex line(R"(Prometheus metrics on http://127\.0\.0\.1:(\d+)/metrics)");
  std::smatch m;
  const std::string text = log();
  if (!std::regex_search(text, m, line)) throw std::runtime_error("no metrics line in:\n" + text);
  return static_cast<std::uint16_t>(std::stoi(m[1]));
}

}  // namespace derp::testing
