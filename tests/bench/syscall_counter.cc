#include "tests/bench/syscall_counter.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/child_process.h"

namespace derp::bench {
namespace {

// The calls a relay's data path makes; everything else is in "all".
const char* const kKinds[] = {"recvfrom",  "sendto",  "read",          "write",      "readv",
                              "writev",    "recvmsg", "sendmsg",       "epoll_wait", "epoll_pwait",
                              "epoll_ctl", "futex",   "io_uring_enter"};

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string find_perf() {
  for (const char* p : {"/usr/bin/perf", "/usr/local/bin/perf"})
    if (::access(p, X_OK) == 0) return p;
  return "";
}

}  // namespace

SyscallCounter::SyscallCounter(pid_t pid) {
  const std::string perf = find_perf();
  if (perf.empty()) {
    why_ = "perf is not installed (apt-get install linux-perf)";
    return;
  }
  if (!exists("/sys/kernel/tracing/events/raw_syscalls") &&
      !exists("/sys/kernel/debug/tracing/events/raw_syscalls")) {
    why_ = "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)";
    return;
  }
  char dir[] = "/tmp/derp-load-perf-XXXXXX";
  if (!::mkdtemp(dir)) {
    why_ = "cannot create a temporary folder";
    return;
  }
  out_path_ = std::string(dir) + "/stat.csv";
  std::string events = "raw_syscalls:sys_enter";
  for (const char* k : kKinds) {
    if (exists(std::string("/sys/kernel/tracing/events/syscalls/sys_enter_") + k))
      events += std::string(",syscalls:sys_enter_") + k;
  }
  perf_ = testing::spawn_child(
      perf, {"stat", "-x", ",", "-o", out_path_, "-e", events, "-p", std::to_string(pid)}, -1, -1);
  // perf attaches within a few milliseconds; counting starts once its output file exists.
  for (int i = 0; i < 200 && !exists(out_path_); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

SyscallCounter::~SyscallCounter() {
  if (perf_ > 0) stop();
}

std::map<std::string, std::uint64_t> SyscallCounter::stop() {
  std::map<std::string, std::uint64_t> counts;
  if (perf_ <= 0) return counts;
  testing::stop_child(perf_, SIGINT, std::chrono::seconds(5));
  std::ifstream in(out_path_);
  std::string line;
  while (std::getline(in, line)) {
    // "12345,,syscalls:sys_enter_sendto,1000000,100.00,,"
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) fields.push_back(f);
    if (fields.size() < 3 || fields[0].empty() || fields[0][0] < '0' || fields[0][0] > '9')
      continue;
    const std::uint64_t n = std::strtoull(fields[0].c_str(), nullptr, 10);
    const std::string& event = fields[2];
    if (event == "raw_syscalls:sys_enter") {
      counts["all"] = n;
    } else if (auto at = event.find("sys_enter_"); at != std::string::npos) {
      counts[event.substr(at + 10)] = n;
    }
  }
  std::remove(out_path_.c_str());
  ::rmdir(out_path_.substr(0, out_path_.rfind('/')).c_str());
  return counts;
}

}  // namespace derp::bench
