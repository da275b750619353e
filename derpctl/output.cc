#include "derpctl/output.h"

#include <algorithm>
#include <iterator>

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace derpctl {

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> width;
  for (const auto& row : rows_) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << '\n';
  }
}

nlohmann::json to_json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string text;
  auto status = google::protobuf::util::MessageToJsonString(m, &text, o);
  if (!status.ok()) return nlohmann::json::object();
  return nlohmann::json::parse(text);
}

std::string format_time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "-";
  std::time_t secs = static_cast<std::time_t>(t.seconds());
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

std::string format_seconds(std::int64_t s) {
  if (s < 0) s = 0;
  char buf[48];
  if (s >= 86400) {
    std::snprintf(buf, sizeof buf, "%lldd%lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  } else if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  }
  return buf;
}

std::string format_age(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "-";
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return format_seconds(now - t.seconds()) + " ago";
}

std::string format_bytes(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  }
  return buf;
}

std::string short_key(const std::string& k) {
  return k.size() > 16 ? k.substr(0, 16) + "…" : k;
}

std::vector<std::string> unique_key_prefixes(const std::vector<std::string>& keys) {
  constexpr std::size_t kMinHex = 8;
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  auto common = [](const std::string& a, const std::string& b) {
    std::size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
  };
  std::vector<std::string> out;
  out.reserve(keys.size());
  for (const auto& k : keys) {
    const std::size_t colon = k.find(':');
    const std::size_t hex_start = colon == std::string::npos ? 0 : colon + 1;
    // Neighbours in sorted order share the longest prefixes with k.
    auto it = std::lower_bound(sorted.begin(), sorted.end(), k);
    std::size_t shared = 0;
    if (it != sorted.begin()) shared = std::max(shared, common(k, *std::prev(it)));
    if (auto next = std::next(it); next != sorted.end() && *next != k) {
      shared = std::max(shared, common(k, *next));
    }
    const std::size_t len = std::max(hex_start + kMinHex, shared + 1);
    out.push_back(len >= k.size() ? k : k.substr(0, len) + "…");
  }
  return out;
}

}  // namespace derpctl
