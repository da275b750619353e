// Which probes a DERP map calls for (protocol §10), named and labelled as derpprobe names them so
// that dashboards and alerts written for derpprobe work unchanged. Pure: no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "derpctl/probe/derp_map.h"

namespace derpctl::probe {

enum class ProbeClass { kDerpMap, kTls, kUdp, kMesh, kBandwidth, kQueueDelay };

// derpprobe's `class` label: derp_map, tls, derp_udp, derp_mesh, derp_bw, derp_qd.
const char* class_label(ProbeClass c);

struct ProbeSpec {
  std::string name;  // e.g. "derp/fra/900a/900b/mesh"
  ProbeClass cls = ProbeClass::kTls;
  int region_id = 0;
  std::string region_code;
  DerpNode from;      // the node probed (tls, udp) or the sending node (mesh, bw, qd)
  DerpNode to;        // the receiving node (mesh, bw, qd)
  bool ipv6 = false;  // udp: the /udp6 probe
  std::string address_family() const;  // "ipv4"/"ipv6" for udp, else ""
  std::string derp_path() const;       // "single" when from == to, "mesh" otherwise; "" if n/a
};

struct ProbeSelection {
  bool tls = true;
  bool udp = true;  // both /udp and /udp6, each where the map gives that family an address
  bool mesh = true;
  bool bandwidth = false;
  bool queue_delay = false;
  std::string region;  // RegionCode or RegionID; empty: every region
};

// Parses "tls,udp,mesh,bw,qd" (any subset, any order) into `s`; returns why not when it cannot.
std::string parse_probe_list(const std::string& list, ProbeSelection& s);

struct Plan {
  std::vector<ProbeSpec> probes;
  std::string error;  // e.g. --region names no region of the map
};

// In map order: per node tls, udp, udp6; then per region every ordered pair (from == to
// included) for mesh, bw and qd. STUN-only nodes get only udp probes. derpprobe probes STUN at
// the map's literal addresses only: a node whose IPv4/IPv6 is "none" or "" gets no udp probe
// for that family.
Plan plan_probes(const DerpMap& map, const ProbeSelection& s);

}  // namespace derpctl::probe
