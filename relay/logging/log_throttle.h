// Keeps a flood of one kind of event from flooding the log: one line per key per interval, the
// rest counted and reported on the next line that gets through ("… (41 more suppressed)").
// Thread-safe; every worker may share one.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace derp::logging {

class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::milliseconds interval = std::chrono::seconds(10))
      : interval_(interval) {}

  // nullopt: suppress this one. Otherwise log it, with the count suppressed since the last line
  // of this key (0 the first time).
  std::optional<std::uint64_t> allow(std::string_view key,
                                     std::chrono::steady_clock::time_point now);
  // " (N more suppressed)" or "", for appending to the line.
  static std::string suffix(std::uint64_t suppressed);

  // Beyond this many distinct keys, new keys share one slot: attacker-chosen keys (addresses)
  // must not grow the table.
  static constexpr std::size_t kMaxKeys = 1024;

 private:
  struct Entry {
    std::chrono::steady_clock::time_point last{};
    std::uint64_t suppressed = 0;
  };
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace derp::logging
