// Rates as operators write and read them ("5MB/s", "40Mbit/s", "512KiB/s"), for derpctl and the
// node's logs. Decimal prefixes are powers of 1000, binary ones (KiB, MiB, GiB) of 1024; "bit"
// units are divided by 8. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace derp::limits {

// Bytes per second, or nullopt when `text` is not a positive rate. "/s" may be left out; a bare
// number is bytes per second.
std::optional<std::uint64_t> parse_rate_text(std::string_view text);
// "1 MB/s", "1.5 MB/s", "800 KB/s", "512 B/s" (decimal, as network rates are usually read).
std::string format_rate(std::uint64_t bytes_per_second);

}  // namespace derp::limits
