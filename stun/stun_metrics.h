// STUN counters and their two export forms (protocol §8.1, §8.3): Prometheus text for /debug/varz
// and the expvar-style JSON object that sits under "stun" in /debug/vars.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "stun/binding_codec.h"

namespace derp::stun {

// A snapshot, summed over the server's worker sockets.
struct StunCounters {
  // stun_requests{disposition=...}. not_stun counts every dropped datagram except draining ones.
  std::uint64_t success = 0;
  std::uint64_t not_stun = 0;
  std::uint64_t read_error = 0;
  std::uint64_t write_error = 0;
  // stun_addrfamily{family=...}: requests we tried to answer. IPv4-mapped sources count as ipv4.
  std::uint64_t ipv4 = 0;
  std::uint64_t ipv6 = 0;
  // stun_answered{form=...} (ours): which request form was answered.
  std::uint64_t answered_tailscale = 0;
  std::uint64_t answered_generic = 0;
  // stun_dropped{reason=...} (ours), indexed by DropReason; kNone stays 0.
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> dropped{};

  std::uint64_t dropped_for(DropReason r) const { return dropped[static_cast<std::size_t>(r)]; }
  StunCounters& operator+=(const StunCounters& o);
};

// Prometheus text, with a `# TYPE ... counter` line per family.
std::string to_prometheus(const StunCounters& c);
// {"counter_requests": {"success": N, ...}, "counter_addrfamily": {...}, "counter_answered":
//  {...}, "counter_dropped": {...}}: the reference's expvar layout, which converts to the names
//  above.
nlohmann::json to_expvar(const StunCounters& c);

}  // namespace derp::stun
