// Durations on derpctl's command line, in Go's syntax as derpd's flags ("5m", "90s", "100ms",
// "1h30m", "1.5s"), and their protobuf form.
#pragma once

#include <google/protobuf/duration.pb.h>

#include <chrono>
#include <optional>
#include <string>

#include "relay/main/go_duration.h"

namespace derpctl {

inline std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  auto d = derp::main::parse_go_duration(text);
  if (!d || d->count() < 0) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

inline void set_duration(google::protobuf::Duration& d, std::chrono::milliseconds ms) {
  d.set_seconds(ms.count() / 1000);
  d.set_nanos(static_cast<int>(ms.count() % 1000) * 1000000);
}

}  // namespace derpctl
