#include "derpctl/limits_text.h"

#include <cmath>
#include <map>
#include <sstream>

namespace derpctl {

std::string limit_text(std::uint64_t limit) {
  return limit == 0 ? "none" : std::to_string(limit);
}

std::string accept_rate_text(const pb::ConnectionLimits& l) {
  if (std::isinf(l.accept_rate()) || l.accept_rate() <= 0) return "none";
  std::ostringstream out;
  out << l.accept_rate() << "/s (burst " << l.accept_burst() << ")";
  return out.str();
}

std::string refused_text(const pb::ConnectionLimits& l) {
  std::uint64_t total = 0;
  std::string parts;
  // Sorted, so the line reads the same on every call.
  const std::map<std::string, std::uint64_t> sorted(l.refused().begin(), l.refused().end());
  for (const auto& [reason, n] : sorted) {
    if (n == 0) continue;
    total += n;
    parts += (parts.empty() ? "" : ", ") + reason + " " + std::to_string(n);
  }
  return parts.empty() ? "0" : std::to_string(total) + " (" + parts + ")";
}

}  // namespace derpctl
