// Client-supplied text (SNI, AppName, request targets, header values) made safe to log: a newline
// in it must not forge a log line, a terminal escape must not reach the operator's terminal, and
// a 256 KiB string must not become a 256 KiB log line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace derp::logging {

// Printable ASCII passes as is; `"` and `\` are backslash-escaped; every other byte (control
// characters, DEL, bytes ≥ 0x80) becomes \xNN. Longer input is cut at `max_bytes` of input and
// "…(+N bytes)" appended.
std::string printable(std::string_view text, std::size_t max_bytes = 256);

}  // namespace derp::logging
