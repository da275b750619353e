// The DERP clients of the mesh, bw and qd probes: the project's one DERP client
// (relay/client), dialled as Tailscale dials a map node, and closed by the probe's deadline.
#pragma once

#include <memory>
#include <vector>

#include "derpctl/probe/probes.h"
#include "relay/client/derp_client.h"

namespace derpctl::probe {

// Where to dial `node`: its IPv4 literal, else its IPv6 literal, else its HostName (DNS).
std::string dial_address(const DerpNode& node);

// A client with a fresh random key, connected (ServerInfo received first: the client refuses
// anything else) within the probe's remaining time.
boost::asio::awaitable<std::shared_ptr<derp::client::DerpClient>> open_probe_client(
    Executor ex, const DerpNode& node, const ProbeOptions& o, bool is_prober, ProbeContext& ctx);

// The two clients of a mesh, bw or qd probe: one on `from`, one on `to` (both on one node when
// from == to).
struct ProbePair {
  std::shared_ptr<derp::client::DerpClient> sender;
  std::shared_ptr<derp::client::DerpClient> receiver;
};
// Connects both, then, for two different nodes, waits derpprobe's 100 ms: the receiving client's
// presence needs a moment to reach the sending node over the mesh.
boost::asio::awaitable<ProbePair> open_pair(Executor ex, const ProbeSpec& spec,
                                            const ProbeOptions& o, bool is_prober,
                                            ProbeContext& ctx);

// The next packet `client` receives; keep-alives, presence, pings and other control frames are
// skipped. Throws when the connection ends.
boost::asio::awaitable<derp::client::RecvPacket> next_packet(derp::client::DerpClient& client);

// A fresh random payload.
std::vector<std::uint8_t> random_bytes(std::size_t n);

}  // namespace derpctl::probe
