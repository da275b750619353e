// Go's time.ParseDuration syntax ("10m", "1h30m", "2.5s", "500ms", "0"), which derper's flags
// use, so unit files written for derper work unchanged.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace derp::main {

std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view text);

}  // namespace derp::main
