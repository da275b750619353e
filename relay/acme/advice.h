// What an operator should do about an ACME failure, in plain words: the CA's problem documents
// name a cause ("connection", "dns", "rateLimited", …), not the fix on this node. Pure.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "relay/acme/messages.h"

namespace derp::acme {

// Why a challenge for `identifier` failed and what to check. `challenge_type` is "http-01" or
// "tls-alpn-01", which tells which port the CA had to reach.
std::string challenge_advice(const Problem& problem, std::string_view identifier,
                             std::string_view challenge_type);

// A problem the CA answered a request with (account, order, finalize). `during` names the step.
std::string request_advice(const Problem& problem, std::string_view during);

// A Retry-After header: seconds, or an HTTP date (RFC 9110 §10.2.3). nullopt when absent or
// malformed.
std::optional<std::chrono::system_clock::time_point> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);

}  // namespace derp::acme
