#include "derpctl/probe/probe_plan.h"

#include <sstream>

namespace derpctl::probe {
namespace {

bool family_usable(const DerpNode& n, bool ipv6) {
  const std::string& address = ipv6 ? n.ipv6 : n.ipv4;
  return !address.empty() && address != "none";
}

bool region_matches(const DerpRegion& r, const std::string& wanted) {
  return wanted.empty() || wanted == r.code || wanted == std::to_string(r.id);
}

}  // namespace

const char* class_label(ProbeClass c) {
  switch (c) {
    case ProbeClass::kDerpMap:
      return "derp_map";
    case ProbeClass::kTls:
      return "tls";
    case ProbeClass::kUdp:
      return "derp_udp";
    case ProbeClass::kMesh:
      return "derp_mesh";
    case ProbeClass::kBandwidth:
      return "derp_bw";
    case ProbeClass::kQueueDelay:
      return "derp_qd";
  }
  return "unknown";
}

std::string ProbeSpec::address_family() const {
  if (cls != ProbeClass::kUdp) return {};
  return ipv6 ? "ipv6" : "ipv4";
}

std::string ProbeSpec::derp_path() const {
  if (cls != ProbeClass::kMesh && cls != ProbeClass::kBandwidth && cls != ProbeClass::kQueueDelay) {
    return {};
  }
  return from.name == to.name ? "single" : "mesh";
}

std::string parse_probe_list(const std::string& list, ProbeSelection& s) {
  s.tls = s.udp = s.mesh = s.bandwidth = s.queue_delay = false;
  std::istringstream in(list);
  std::string item;
  bool any = false;
  while (std::getline(in, item, ',')) {
    if (item == "tls")
      s.tls = true;
    else if (item == "udp" || item == "udp6")
      s.udp = true;
    else if (item == "mesh")
      s.mesh = true;
    else if (item == "bw")
      s.bandwidth = true;
    else if (item == "qd")
      s.queue_delay = true;
    else
      return "unknown probe \"" + item + "\" (known: tls, udp, mesh, bw, qd)";
    any = true;
  }
  if (!any) return "no probe named (known: tls, udp, mesh, bw, qd)";
  return {};
}

Plan plan_probes(const DerpMap& map, const ProbeSelection& s) {
  Plan plan;
  bool region_found = false;
  for (const auto& region : map.regions) {
    if (!region_matches(region, s.region)) continue;
    region_found = true;
    auto spec = [&](ProbeClass cls, const DerpNode& from, const DerpNode& to, std::string name) {
      ProbeSpec p;
      p.cls = cls;
      p.region_id = region.id;
      p.region_code = region.code;
      p.from = from;
      p.to = to;
      p.name = std::move(name);
      return p;
    };
    const std::string prefix = "derp/" + region.code + "/";
    for (const auto& node : region.nodes) {
      if (s.tls && !node.stun_only && !node.plain_http) {
        plan.probes.push_back(spec(ProbeClass::kTls, node, node, prefix + node.name + "/tls"));
      }
      if (s.udp && node.stun_port != -1) {
        for (bool v6 : {false, true}) {
          if (!family_usable(node, v6)) continue;
          auto p = spec(ProbeClass::kUdp, node, node, prefix + node.name + (v6 ? "/udp6" : "/udp"));
          p.ipv6 = v6;
          plan.probes.push_back(std::move(p));
        }
      }
    }
    struct PairClass {
      bool wanted;
      ProbeClass cls;
      const char* suffix;
    };
    for (const PairClass& pc : {PairClass{s.mesh, ProbeClass::kMesh, "/mesh"},
                                PairClass{s.bandwidth, ProbeClass::kBandwidth, "/bw"},
                                PairClass{s.queue_delay, ProbeClass::kQueueDelay, "/qd"}}) {
      if (!pc.wanted) continue;
      for (const auto& from : region.nodes) {
        if (from.stun_only) continue;
        for (const auto& to : region.nodes) {
          if (to.stun_only) continue;
          plan.probes.push_back(
              spec(pc.cls, from, to, prefix + from.name + "/" + to.name + pc.suffix));
        }
      }
    }
  }
  if (!s.region.empty() && !region_found) {
    plan.error = "the DERP map has no region with code or ID \"" + s.region + "\"";
  }
  return plan;
}

}  // namespace derpctl::probe
