#include "relay/main/go_duration.h"

#include <cmath>
#include <cstdint>
#include <utility>

namespace derp::main {

std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool negative = false;
  if (s.front() == '-' || s.front() == '+') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return std::nullopt;
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"ns", 1.0}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  double total = 0;
  while (!s.empty()) {
    std::size_t i = 0;
    double value = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      value = value * 10 + (s[i] - '0');
      ++i;
      digits = true;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      double scale = 0.1;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        value += (s[i] - '0') * scale;
        scale /= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits) return std::nullopt;
    s.remove_prefix(i);
    std::size_t unit_len = 0;
    while (unit_len < s.size() && !(s[unit_len] >= '0' && s[unit_len] <= '9') &&
           s[unit_len] != '.') {
      ++unit_len;
    }
    std::string_view unit = s.substr(0, unit_len);
    const double* factor = nullptr;
    for (const auto& [name, f] : kUnits) {
      if (name == unit) factor = &f;
    }
    if (!factor) return std::nullopt;
    total += value * *factor;
    if (total > 9.2e18) return std::nullopt;  // beyond int64 nanoseconds
    s.remove_prefix(unit_len);
  }
  auto ns = static_cast<std::int64_t>(std::llround(total));
  return std::chrono::nanoseconds(negative ? -ns : ns);
}

}  // namespace derp::main
