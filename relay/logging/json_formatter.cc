#include "relay/logging/json_formatter.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "relay/logging/event.h"

namespace derp::logging {

namespace detail {
const LogEvent*& current_event() {
  thread_local const LogEvent* event = nullptr;
  return event;
}
}  // namespace detail

void JsonFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const auto since_epoch = msg.time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  const auto level = spdlog::level::to_string_view(msg.level);
  auto escaped = [](std::string_view v) {
    return nlohmann::json(std::string(v))
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  fmt::format_to(std::back_inserter(dest),
                 R"({{"time":"{:%Y-%m-%dT%H:%M:%S}.{:03}Z","level":"{}","msg":{})", utc, millis,
                 std::string_view(level.data(), level.size()),
                 escaped(std::string_view(msg.payload.data(), msg.payload.size())));
  if (const LogEvent* e = detail::current_event()) {
    fmt::format_to(std::back_inserter(dest), R"(,"event":{})", escaped(e->name));
    for (const auto& f : e->fields) {
      // Fields never replace the line's own keys.
      if (f.name == "time" || f.name == "level" || f.name == "msg" || f.name == "event") continue;
      fmt::format_to(std::back_inserter(dest), R"(,{}:{})", escaped(f.name), escaped(f.value));
    }
  }
  dest.push_back('}');
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonFormatter::clone() const {
  return std::make_unique<JsonFormatter>();
}

}  // namespace derp::logging
