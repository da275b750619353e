#include "relay/limits/rate_text.h"

#include <boost/algorithm/string/predicate.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

namespace derp::limits {
namespace {

struct Unit {
  std::string_view name;
  double bytes;
};

// Case matters only between "b" (bit) and "B" (byte); prefixes may be k or K.
constexpr Unit kUnits[] = {
    {"B", 1},         {"KB", 1e3},           {"MB", 1e6},    {"GB", 1e9},     {"KiB", 1024},
    {"MiB", 1048576}, {"GiB", 1073741824.0}, {"bit", 0.125}, {"Kbit", 125},   {"Mbit", 125e3},
    {"Gbit", 125e6},  {"bps", 0.125},        {"Kbps", 125},  {"Mbps", 125e3}, {"Gbps", 125e6},
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool unit_matches(std::string_view written, std::string_view unit) {
  if (written.size() != unit.size()) return false;
  for (std::size_t i = 0; i < unit.size(); ++i) {
    char w = written[i], u = unit[i];
    // The prefix letter (k/K, m/M, g/G) may be either case; 'B' versus 'b' may not.
    if (i == 0 && unit.size() > 1 && u != 'B' && u != 'b') {
      if ((w | 0x20) != (u | 0x20)) return false;
    } else if (w != u) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::uint64_t> parse_rate_text(std::string_view text) {
  text = trim(text);
  if (boost::iends_with(text, "/s")) text = trim(text.substr(0, text.size() - 2));
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view unit = trim(std::string_view(end, text.data() + text.size() - end));
  double per_unit = 0;
  if (unit.empty()) per_unit = 1;
  for (const auto& u : kUnits) {
    if (unit_matches(unit, u.name)) per_unit = u.bytes;
  }
  if (per_unit == 0 || !std::isfinite(number) || number <= 0) return std::nullopt;
  const double bytes = std::round(number * per_unit);
  if (bytes < 1 || bytes >= static_cast<double>(std::numeric_limits<std::uint64_t>::max())) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(bytes);
}

std::string format_rate(std::uint64_t bytes_per_second) {
  constexpr std::pair<double, const char*> kScales[] = {
      {1e9, "GB/s"}, {1e6, "MB/s"}, {1e3, "KB/s"}};
  const double v = static_cast<double>(bytes_per_second);
  for (const auto& [scale, name] : kScales) {
    if (v < scale) continue;
    char buf[48];
    const double scaled = v / scale;
    // Whole numbers without a decimal point: "5 MB/s", not "5.0 MB/s".
    if (std::fabs(scaled - std::round(scaled)) < 0.05) {
      std::snprintf(buf, sizeof buf, "%.0f %s", scaled, name);
    } else {
      std::snprintf(buf, sizeof buf, "%.1f %s", scaled, name);
    }
    return buf;
  }
  return std::to_string(bytes_per_second) + " B/s";
}

}  // namespace derp::limits
