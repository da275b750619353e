// libFuzzer target: the DERP map `derpctl probe --derp-map` fetches (from a URL an attacker may
// answer). It parses or says why; a parsed map yields a plan whose probes name real nodes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "derpctl/probe/derp_map.h"
#include "derpctl/probe/probe_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace derpctl::probe;
  auto r = parse_derp_map(std::string_view(reinterpret_cast<const char*>(data), size));
  if (r.error.empty() == r.map.regions.empty()) __builtin_trap();
  ProbeSelection all;
  all.bandwidth = all.queue_delay = true;
  auto plan = plan_probes(r.map, all);
  for (const auto& p : plan.probes) {
    if (p.name.empty() || p.from.host_name.empty()) __builtin_trap();
    (void)p.from.derp_url();
  }
  return 0;
}
