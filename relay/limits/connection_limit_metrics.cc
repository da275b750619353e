#include "relay/limits/connection_limit_metrics.h"

#include <string_view>

namespace derp::limits {
namespace {

void line(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value) {
  out += name;
  out += labels;
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

void type(std::string& out, std::string_view name, std::string_view kind) {
  out += "# TYPE ";
  out += name;
  out += ' ';
  out += kind;
  out += '\n';
}

// The reference counts only what its accept-rate limiter refused as "rejected".
std::uint64_t rejected_by_rate(const ConnectionLimitStats& s) {
  return s.refused[static_cast<std::size_t>(Refusal::kAcceptRate)];
}

}  // namespace

void add_expvar(nlohmann::json& vars, const ConnectionLimitStats& s) {
  vars["tls_listener_accepted_connections"] = s.accepted;
  vars["tls_listener_rejected_connections"] = rejected_by_rate(s);
}

void append_prometheus(std::string& out, const ConnectionLimitStats& s) {
  type(out, "tls_listener_accepted_connections", "counter");
  line(out, "tls_listener_accepted_connections", "", s.accepted);
  type(out, "tls_listener_rejected_connections", "counter");
  line(out, "tls_listener_rejected_connections", "", rejected_by_rate(s));
  type(out, "derp_connections_refused", "counter");
  for (std::size_t r = 1; r < kRefusalCount; ++r) {
    const std::string labels =
        "{reason=\"" + std::string(to_string(static_cast<Refusal>(r))) + "\"}";
    line(out, "derp_connections_refused", labels, s.refused[r]);
  }
  type(out, "derp_connections_open", "gauge");
  line(out, "derp_connections_open", "{counted=\"limited\"}", s.open);
  line(out, "derp_connections_open", "{counted=\"exempt\"}", s.open_exempt);
  type(out, "derp_connections_source_ips", "gauge");
  line(out, "derp_connections_source_ips", "", s.source_ips);
  type(out, "derp_connection_limit", "gauge");
  line(out, "derp_connection_limit", "{limit=\"max_connections\"}", s.settings.max_connections);
  line(out, "derp_connection_limit", "{limit=\"max_connections_per_ip\"}", s.settings.max_per_ip);
  type(out, "derp_file_descriptor_limit", "gauge");
  line(out, "derp_file_descriptor_limit", "", s.descriptor_limit);
}

}  // namespace derp::limits
