// The probes of protocol §10, one coroutine each. A probe returns its outcome or throws with an
// operator-facing reason; the runner (probe_runner.h) adds the deadline and the timing.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "derpctl/probe/probe_context.h"
#include "derpctl/probe/probe_plan.h"
#include "relay/protocol/key.h"

namespace derpctl::probe {

struct ProbeOptions {
  std::optional<derp::protocol::KeyBytes> mesh_key;
  std::string ca_file;  // extra trusted CA (as well as the system store and SSL_CERT_FILE)
  std::chrono::milliseconds timeout{12000};  // per probe: 0.8 × the interval, as derpprobe
  std::size_t bw_size = 1000000;             // bytes per bw probe
  double qd_packets_per_second = 20;
  std::chrono::milliseconds qd_duration{3000};  // how long one qd run sends
  std::chrono::milliseconds qd_packet_timeout{5000};
};

struct ProbeOutcome {
  bool good = false;
  std::string reason;  // why bad; for good, a short detail ("812 Mbit/s") or ""
  double latency_ms = 0;
  // Figures of the bw and qd probes, for -o json and the metrics: name → value.
  std::vector<std::pair<std::string, double>> figures;
};

// Limits of the reference prober.
inline constexpr std::size_t kMaxBandwidthPacket = 64 * 1024;
inline constexpr std::size_t kMaxBandwidthInFlight = 30;
inline constexpr std::size_t kQueueDelayPacketSize = 260;
inline constexpr std::chrono::milliseconds kStunAttemptWait{2000};

using Executor = boost::asio::any_io_executor;

boost::asio::awaitable<ProbeOutcome> probe_tls(Executor ex, const ProbeSpec& spec,
                                               const ProbeOptions& o, ProbeContext& ctx);
boost::asio::awaitable<ProbeOutcome> probe_stun(Executor ex, const ProbeSpec& spec,
                                                const ProbeOptions& o, ProbeContext& ctx);
boost::asio::awaitable<ProbeOutcome> probe_mesh(Executor ex, const ProbeSpec& spec,
                                                const ProbeOptions& o, ProbeContext& ctx);
boost::asio::awaitable<ProbeOutcome> probe_bandwidth(Executor ex, const ProbeSpec& spec,
                                                     const ProbeOptions& o, ProbeContext& ctx);
boost::asio::awaitable<ProbeOutcome> probe_queue_delay(Executor ex, const ProbeSpec& spec,
                                                       const ProbeOptions& o, ProbeContext& ctx);

}  // namespace derpctl::probe
