// Counts another process's system calls over an interval, by kind, with `perf stat` on the
// kernel's syscall tracepoints: cheap enough to leave on while measuring (unlike strace, which
// stops the process at every call). Needs perf and a mounted tracefs, i.e. root.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

namespace derp::bench {

class SyscallCounter {
 public:
  // Starts counting `pid`'s calls (every thread). When that is not possible, available() is
  // false and why() says what to do.
  explicit SyscallCounter(pid_t pid);
  ~SyscallCounter();
  SyscallCounter(const SyscallCounter&) = delete;
  SyscallCounter& operator=(const SyscallCounter&) = delete;

  bool available() const { return perf_ > 0; }
  const std::string& why() const { return why_; }
  // Stops and returns counts: "all" plus one entry per kind traced (recvfrom, sendto, epoll_wait,
  // epoll_ctl, read, write, futex, ...). Empty when unavailable.
  std::map<std::string, std::uint64_t> stop();

 private:
  pid_t perf_ = -1;
  std::string out_path_;
  std::string why_;
};

}  // namespace derp::bench
