// The measuring core of derp-load, also used by derp-idle for its "still relaying?" check.
//
// N pairs: pair i's sender and receiver are DerpClients (relay/client) on the same io_context
// thread; the sender writes SendPacket frames to the receiver's key in batches (queue_packet +
// flush, one write per batch), each packet carrying its sequence number and send time; the
// receiver reads RecvPackets on its own coroutine and records the latency.
//
// Modes: --rate R > 0: R packets/s per pair on a schedule (batched when late);
//        --window W > 0: at most W packets of a pair in flight (lossless when W ≤ the server's
//                        per-client queue); both may be combined;
//        neither: unlimited, batches of --batch as fast as the socket takes them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include <map>
#include <nlohmann/json.hpp>

namespace derp::bench {

struct LoadOptions {
  std::vector<std::string> urls;  // pair i uses urls[i % n]
  bool cross = false;             // receiver of pair i on urls[(i + 1) % n] (a meshed region)
  int pairs = 10;
  std::size_t size = 1200;  // packet bytes (≥ 24: sequence, time, pair)
  double duration_s = 5;    // measured
  double warmup_s = 1;      // not measured
  double rate = 0;          // packets/s per pair; 0 = unlimited
  int window = 0;           // max in flight per sender; 0 = none
  // Max packets per write. 1 is what Tailscale's client does (it flushes after every packet:
  // one TCP write, on TLS one record, per packet); larger batches are not a real client's load.
  int batch = 1;
  int threads = 0;  // io_context threads; 0 = one per core
  std::string ca_file;
  bool insecure = false;
  pid_t server_pid = -1;        // for CPU per packet; -1: not measured
  double probe_interval_s = 0;  // > 0: time a fresh client's connect every so often
  double drain_s = 2;           // after the senders stop, wait this long for stragglers
  std::uint64_t max_packets = 2'000'000'000;  // total cap over all pairs
  // Counting syscalls attaches tracepoints to every server syscall, which costs the server CPU
  // (about 8 % of its CPU per packet on TLS here); false measures the CPU without them.
  bool count_syscalls = true;
  bool quiet = false;
};

struct LoadResult {
  // Configuration echoed back.
  LoadOptions options;
  int threads = 0;
  // Over the measured interval.
  double measured_s = 0;
  std::uint64_t offered = 0;    // packets written by senders
  std::uint64_t delivered = 0;  // packets read by receivers
  double offered_pps = 0, delivered_pps = 0;
  double delivered_mbps = 0;  // MB/s (10^6 bytes) of packet payload
  // Over the whole run, after the drain.
  std::uint64_t total_sent = 0, total_received = 0, lost = 0;
  double drop_percent = 0;
  std::uint64_t window_stalls = 0;  // window waits that timed out (lost packets in lossless mode)
  // Latency of packets sent within the measured interval (µs).
  std::uint64_t latency_samples = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  // Server (when a pid was given).
  double server_cpu_s = -1;
  double server_cpu_us_per_packet = -1;
  double server_cpu_cores = -1;  // average cores busy
  double server_ctx_switches_per_packet = -1;
  // System calls per delivered packet, "all" and by kind (perf; empty when unavailable, then
  // syscalls_unavailable says why).
  std::map<std::string, double> server_syscalls_per_packet;
  std::string syscalls_unavailable;
  // The generator itself.
  double client_cpu_s = 0;
  double client_cpu_us_per_packet = 0;
  // Fresh clients connecting while under load.
  std::uint64_t probes = 0, probe_failures = 0;
  double probe_p50_ms = 0, probe_max_ms = 0;
  std::string error;  // non-empty when the run could not be done

  nlohmann::json to_json() const;
  std::string to_text() const;
};

LoadResult run_load(const LoadOptions& options);

}  // namespace derp::bench
