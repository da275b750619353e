#include "tests/support/derpd_process.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "tests/support/child_process.h"

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
  ::close(log_fd);
  log_path_ = log_template;
  try {
    auto ready = launch_derpd(binary(), args, log_path_, timeout, pid_, stdout_fd_);
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
