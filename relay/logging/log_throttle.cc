#include "relay/logging/log_throttle.h"

#include <utility>

namespace derp::logging {

std::optional<std::uint64_t> LogThrottle::allow(std::string_view key,
                                                std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxKeys)
      it = entries_.try_emplace("(other)").first;
    else
      it = entries_.try_emplace(std::string(key)).first;
    if (it->second.last == std::chrono::steady_clock::time_point{}) {
      it->second.last = now;
      return 0;
    }
  }
  Entry& e = it->second;
  if (now - e.last < interval_) {
    ++e.suppressed;
    return std::nullopt;
  }
  e.last = now;
  return std::exchange(e.suppressed, 0);
}

std::string LogThrottle::suffix(std::uint64_t suppressed) {
  if (suppressed == 0) return "";
  return " (" + std::to_string(suppressed) + " more suppressed)";
}

}  // namespace derp::logging
