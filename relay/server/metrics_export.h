// The node's counters in the reference's names (protocol §8), as Prometheus text for /debug/varz
// and /metrics and as expvar-style JSON for /debug/vars, so existing dashboards keep working.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "relay/server/server.h"

namespace derp::server {

// A Prometheus label value with \, " and newlines escaped, as the text format wants.
std::string escape_label_value(std::string_view v);

// Open file descriptors of this process (/proc/self/fd), for derp_current_file_descriptors and
// process_open_fds.
std::size_t count_open_fds();

// Appends the `derp_*` family and process metrics.
void append_prometheus(std::string& out, const ServerStats& s,
                       std::chrono::system_clock::time_point started_at);
// The `derp` object of /debug/vars plus top-level process variables.
nlohmann::json expvar_json(const ServerStats& s, std::chrono::system_clock::time_point started_at);

}  // namespace derp::server
