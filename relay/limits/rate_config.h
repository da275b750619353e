// The --rate-config file (protocol §4.7), read as derper reads it with Go's encoding/json:
// {"PerClientRateLimitBytesPerSec": <uint64>, "PerClientRateBurstBytes": <uint64>}, field names
// matched without regard to case, other fields ignored, a missing field meaning 0, null leaving
// the field as it is.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "relay/limits/receive_rate.h"

namespace derp::limits {

// The files derpd reads are small; anything larger is a mistake (or not this file).
inline constexpr std::size_t kMaxRateConfigBytes = 64 * 1024;

struct RateConfigResult {
  std::optional<ReceiveRate> rate;  // a rate of 0 turns limiting off
  std::string error;                // why `text` is not a rate config, when rate is empty
};
RateConfigResult parse_rate_config(std::string_view text);

}  // namespace derp::limits
