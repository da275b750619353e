// Per-worker counters. Each worker thread is the only writer of its own counters, so an increment
// is a plain relaxed load and store (no locked instruction on the packet path); readers on other
// threads sum the workers' values.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace derp::server {

class Counter {
 public:
  void add(std::uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// A gauge that only its owning worker moves; summed across workers it gives the node's value.
class Gauge {
 public:
  void add(std::int64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

// Drop reasons of protocol §4.4, in the reference's label spelling.
enum class DropReason : std::uint8_t {
  kUnknownDest,
  kUnknownDestOnFwd,
  kGoneDisconnected,
  kQueueHead,
  kQueueTail,
  kWriteError,
  kDupClient,
  kCount,
};
inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::kCount);
std::string_view to_string(DropReason r);

struct WorkerCounters {
  Counter accepts;
  Counter websocket_accepts;
  Counter packets_received;
  Counter bytes_received;
  Counter packets_received_disco;
  Counter packets_received_other;
  Counter packets_sent;
  Counter bytes_sent;
  Counter got_ping;
  Counter sent_pong;
  Counter peer_gone_disconnected_frames;
  Counter peer_gone_not_here_frames;
  Counter unknown_frames;
  Counter home_moves_in;
  Counter home_moves_out;
  Counter packets_forwarded_out;
  Counter packets_forwarded_in;
  Counter sclient_write_timeouts;
  Counter handshake_failures;
  Counter protocol_errors;
  Counter http_headers_refused;  // 431: a request header over the byte or field limit
  Counter rate_limit_waits;      // reads held back by a client's receive limit (§4.7)
  Counter mesh_peers_admitted;   // mesh peers let in without asking, while admission checks run
  Counter sessions_moved_in;     // sessions that moved here (worker_packing.h)
  Counter packets_handed_over;   // packets delivered through another worker's inbox
  Gauge current_connections;
  Gauge current_home_connections;
  Gauge current_notideal_connections;
  // [reason][disco?1:0]
  std::array<std::array<Counter, 2>, kDropReasonCount> packets_dropped;
  std::array<std::array<Counter, 2>, kDropReasonCount> bytes_dropped;
  // EWMA of queueing delay in microseconds, written by this worker only.
  std::atomic<double> average_queue_us{0};

  void count_drop(DropReason r, bool disco, std::size_t bytes) {
    auto i = static_cast<std::size_t>(r);
    packets_dropped[i][disco ? 1 : 0].add();
    bytes_dropped[i][disco ? 1 : 0].add(bytes);
  }
  void note_queue_delay_us(double us) {
    double prev = average_queue_us.load(std::memory_order_relaxed);
    average_queue_us.store(prev * 0.9 + us * 0.1, std::memory_order_relaxed);
  }
};

}  // namespace derp::server
