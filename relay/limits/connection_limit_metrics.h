// The connection limits' counters as Prometheus text, under the reference's names where it has
// them (protocol §4.7.3, §8.3) and derp_connections_* for derpd's own.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "relay/limits/connection_limits.h"

namespace derp::limits {

void append_prometheus(std::string& out, const ConnectionLimitStats& s);
// The reference's two top-level /debug/vars entries.
void add_expvar(nlohmann::json& vars, const ConnectionLimitStats& s);

}  // namespace derp::limits
