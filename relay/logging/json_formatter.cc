#include "relay/logging/json_formatter.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace derp::logging {

void JsonFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const auto since_epoch = msg.time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  const auto level = spdlog::level::to_string_view(msg.level);
  const nlohmann::json text = std::string(msg.payload.data(), msg.payload.size());
  fmt::format_to(std::back_inserter(dest),
                 R"({{"time":"{:%Y-%m-%dT%H:%M:%S}.{:03}Z","level":"{}","msg":{}}})", utc, millis,
                 std::string_view(level.data(), level.size()),
                 text.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonFormatter::clone() const {
  return std::make_unique<JsonFormatter>();
}

}  // namespace derp::logging
