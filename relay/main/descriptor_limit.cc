#include "relay/main/descriptor_limit.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace derp::main {

std::uint64_t raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      spdlog::debug("open-file limit raised from {} to {}", lim.rlim_cur, raised.rlim_cur);
      lim = raised;
    } else {
      spdlog::warn("could not raise the open-file limit from {} to {}: {}", lim.rlim_cur,
                   lim.rlim_max, std::strerror(errno));
    }
  }
  return current_descriptor_limit();
}

std::uint64_t current_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<std::uint64_t>(lim.rlim_cur);
}

}  // namespace derp::main
