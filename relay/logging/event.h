// Log lines that are also events: a stable name and key fields beside the message, which
// --log-format json writes as fields of the line's object
//   {"time":…,"level":"info","msg":"mesh derp2:443: linked to sibling [AbCdE]",
//    "event":"mesh_link_up","peer":"derp2:443","sibling":"[AbCdE]"}
// so a pipeline can select and group lines without parsing text. The text format shows only
// the message, as before. The fields reach the formatter through the calling thread: derpd's
// logger formats on the caller's thread (it is synchronous).
#pragma once

#include <spdlog/spdlog.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace derp::logging {

struct LogField {
  std::string_view name;
  std::string value;
};

struct LogEvent {
  std::string_view name;
  std::initializer_list<LogField> fields;
};

namespace detail {
// The event of the line being logged on this thread, or null.
const LogEvent*& current_event();

class EventScope {
 public:
  explicit EventScope(const LogEvent& e) : saved_(current_event()) { current_event() = &e; }
  ~EventScope() { current_event() = saved_; }
  EventScope(const EventScope&) = delete;
  EventScope& operator=(const EventScope&) = delete;

 private:
  const LogEvent* saved_;
};
}  // namespace detail

// spdlog::log(level, fmt, args…) with an event name and fields (names: lower_snake_case).
template <typename... Args>
void log_event(spdlog::level::level_enum level, std::string_view event,
               std::initializer_list<LogField> fields, spdlog::format_string_t<Args...> fmt,
               Args&&... args) {
  if (!spdlog::should_log(level)) return;
  const LogEvent e{event, fields};
  detail::EventScope scope(e);
  spdlog::log(level, fmt, std::forward<Args>(args)...);
}

}  // namespace derp::logging
