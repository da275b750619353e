// The DERP map (protocol Appendix A) as the prober reads it: the JSON a coordination server hands
// to clients and derpprobe fetches. Parsed as Go's encoding/json does: field names matched without
// regard to case, unknown fields ignored, null leaving a field at its zero value. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace derpctl::probe {

struct DerpNode {
  std::string name;  // unique across the map
  int region_id = 0;
  std::string host_name;  // DNS, SNI and the name the certificate must carry
  std::string cert_name;  // overrides the verified name, or "sha256-raw:<hex>"
  std::string ipv4;       // literal, "none" (family off) or "" (use DNS)
  std::string ipv6;
  int stun_port = 0;  // 0 means 3478, -1 no STUN
  bool stun_only = false;
  int derp_port = 0;  // 0 means 443
  bool insecure_for_tests = false;
  // Not in the map: set for `--node http://…`, a plain-HTTP node (a dev node). Map nodes are
  // always TLS, as Tailscale's client dials them.
  bool plain_http = false;

  int effective_stun_port() const { return stun_port == 0 ? 3478 : stun_port; }
  int effective_derp_port() const { return derp_port == 0 ? 443 : derp_port; }
  std::string derp_url() const;  // https://HostName[:port]/derp
};

struct DerpRegion {
  int id = 0;
  std::string code;
  std::string name;
  bool avoid = false;
  std::vector<DerpNode> nodes;  // map order: the order clients dial
};

struct DerpMap {
  std::vector<DerpRegion> regions;  // ascending RegionID
};

// The largest map accepted; Tailscale's own default map is about 30 KiB.
inline constexpr std::size_t kMaxDerpMapBytes = 4 * 1024 * 1024;

struct DerpMapResult {
  DerpMap map;
  std::string error;  // empty when `map` is valid
};

// Rejects what derpprobe rejects (not JSON, duplicate node names) and what would make a probe
// meaningless (a region key that is not its RegionID, a node without HostName).
DerpMapResult parse_derp_map(std::string_view text);

// The one-node map `--node URL` stands for: http(s)://host[:port], STUN at `stun_port` (-1 off).
// An IP literal host is the node's address of its family and the other family is "none"; for a
// DNS name both are left empty, to be filled by fill_node_addresses().
DerpMapResult single_node_map(const std::string& url, int stun_port);

// For `--node NAME`: IPv4 and IPv6 from the name's first A and AAAA answers ("none" for a family
// without one), so the udp probes know where to send. Pure; the caller resolves.
void fill_node_addresses(DerpNode& node, const std::vector<std::string>& resolved);

}  // namespace derpctl::probe
