// What the kernel says about a process (/proc/PID/status): memory figures for the tests that bound
// what clients can make a node hold.
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace derp::testing {

// A "Name:   N kB" line of /proc/PID/status in bytes (VmRSS, VmHWM…), or -1.
inline long long proc_status_bytes(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string prefix = name + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stoll(line.substr(prefix.size())) * 1024;
  }
  return -1;
}

inline long long rss_bytes(pid_t pid) {
  return proc_status_bytes(pid, "VmRSS");
}

// The descriptor numbers `pid` has open (entries of /proc/PID/fd), unordered.
inline std::vector<int> descriptor_numbers(pid_t pid) {
  std::vector<int> out;
  if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') out.push_back(std::atoi(e->d_name));
    }
    closedir(d);
  }
  return out;
}

inline int open_descriptors(pid_t pid) {
  return static_cast<int>(descriptor_numbers(pid).size());
}

}  // namespace derp::testing
