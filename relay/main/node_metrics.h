// derpd's own Prometheus series, beside the reference's (relay/server/metrics_export.h): the
// node's build, drain state, mesh links, certificate expiry and process resources. Served on
// /debug/varz and on --metrics-listen's /metrics. Names follow Prometheus's conventions
// (`promtool check metrics` finds nothing to say about them); the reference's keep derper's names
// so that existing dashboards work.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "relay/server/drain_controller.h"
#include "relay/server/mesh_forwarder.h"
#include "relay/server/metrics_export.h"

namespace derp::main {

struct MeshLinkMetrics {
  std::string peer;
  server::MeshLinkState state = server::MeshLinkState::kConnecting;
  std::uint64_t reconnects = 0;
  std::uint64_t routes = 0;  // keys the sibling reported present over the link
  std::uint64_t packets_out = 0, bytes_out = 0;
};

struct CertMetrics {
  std::string name;            // the certificate's subject or first name
  std::int64_t not_after = 0;  // Unix seconds
};

struct AcmeMetrics {
  std::uint64_t renewals_ok = 0;
  std::uint64_t renewals_failed = 0;
};

struct NodeMetrics {
  std::string version;
  server::DrainState drain = server::DrainState::kServing;
  std::vector<MeshLinkMetrics> mesh;
  std::vector<CertMetrics> certs;
  std::optional<AcmeMetrics> acme;  // ACME cert modes only
};

// Pure: the text for `m`.
std::string node_metrics_text(const NodeMetrics& m);
// process_open_fds, process_max_fds, process_resident_memory_bytes and process_cpu_seconds_total,
// from /proc/self (the names the Prometheus client libraries use).
std::string process_metrics_text();
using server::escape_label_value;  // relay/server/metrics_export.h

}  // namespace derp::main
