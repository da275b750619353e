#include "relay/limits/rate_config.h"

#include <boost/algorithm/string/predicate.hpp>
#include <nlohmann/json.hpp>

namespace derp::limits {
namespace {

// One field as encoding/json fills a uint64: a non-negative integer, or null for "leave it as it
// is" (0 unless an earlier field of the same name set it).
bool read_uint64(const nlohmann::ordered_json& value, std::string_view name, std::uint64_t& out,
                 std::string& error) {
  if (value.is_null()) return true;
  if (!value.is_number_unsigned()) {
    error = std::string("\"") + std::string(name) + "\" must be a whole number of bytes (not " +
            (value.is_number() ? "negative or fractional" : std::string(value.type_name())) + ")";
    return false;
  }
  out = value.get<std::uint64_t>();
  return true;
}

}  // namespace

RateConfigResult parse_rate_config(std::string_view text) {
  RateConfigResult r;
  if (text.size() > kMaxRateConfigBytes) {
    r.error = "larger than 64 KiB";
    return r;
  }
  // Ordered: of several fields that match a name, Go takes the last one in the document. (A key
  // repeated with the very same spelling keeps its first position here; Go would see it last.)
  auto j = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    r.error = "not valid JSON";
    return r;
  }
  ReceiveRate rate;
  if (j.is_null()) {
    r.rate = rate;
    return r;
  }
  if (!j.is_object()) {
    r.error = std::string("a JSON object is expected, not ") + j.type_name();
    return r;
  }
  for (const auto& [name, value] : j.items()) {
    if (boost::iequals(name, "PerClientRateLimitBytesPerSec")) {
      if (!read_uint64(value, "PerClientRateLimitBytesPerSec", rate.bytes_per_second, r.error)) {
        return r;
      }
    } else if (boost::iequals(name, "PerClientRateBurstBytes")) {
      if (!read_uint64(value, "PerClientRateBurstBytes", rate.burst_bytes, r.error)) return r;
    }
  }
  r.rate = rate;
  return r;
}

}  // namespace derp::limits
