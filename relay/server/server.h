// The relay core: workers, the client registry, routing and node-wide counters. It owns no
// sockets; transports in relay/http feed ClientSessions that call back in here.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <span>
#include <vector>

#include "relay/protocol/frame.h"
#include "relay/server/client_events.h"
#include "relay/server/client_registry.h"
#include "relay/server/mesh_forwarder.h"
#include "relay/server/rate_policy.h"
#include "relay/server/server_config.h"
#include "relay/server/worker.h"

namespace derp::server {

class ClientSession;

// Node-wide counters and gauges, summed over workers.
struct ServerStats {
  std::uint64_t accepts = 0, websocket_accepts = 0;
  std::uint64_t packets_received = 0, bytes_received = 0;
  std::uint64_t packets_received_disco = 0, packets_received_other = 0;
  std::uint64_t packets_sent = 0, bytes_sent = 0;
  std::uint64_t got_ping = 0, sent_pong = 0;
  std::uint64_t peer_gone_disconnected_frames = 0, peer_gone_not_here_frames = 0;
  std::uint64_t unknown_frames = 0, home_moves_in = 0, home_moves_out = 0;
  std::uint64_t packets_forwarded_out = 0, packets_forwarded_in = 0;
  std::uint64_t sclient_write_timeouts = 0, handshake_failures = 0, protocol_errors = 0;
  std::uint64_t http_headers_refused = 0;
  // Receive limits (protocol §4.7): shown only while a default or an override exists.
  bool rate_limits_in_use = false;
  limits::ReceiveRate default_receive_rate;
  std::uint64_t rate_limit_waits = 0;
  std::uint64_t mesh_peers_admitted = 0;         // derp_admission_total{source="mesh"}
  std::uint64_t sessions_moved = 0;              // between workers (worker_packing.h)
  std::uint64_t packets_handed_over = 0;         // delivered through another worker's inbox
  std::size_t workers_active = 0;                // carrying clients (worker_packing.h)
  std::vector<std::int64_t> clients_per_worker;  // established clients on each worker
  std::int64_t current_connections = 0, current_home_connections = 0;
  std::int64_t current_notideal_connections = 0;
  std::array<std::array<std::uint64_t, 2>, kDropReasonCount> packets_dropped{};
  std::array<std::array<std::uint64_t, 2>, kDropReasonCount> bytes_dropped{};
  double average_queue_duration_ms = 0;
  RegistryStats registry;
};

class Server {
 public:
  explicit Server(ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  void stop();
  // Mesh links, indexed by the link id the registry stores. The region's membership changes at
  // run time (derpctl mesh add/remove, SIGHUP) while workers route: each id is an atomic slot.
  // Whoever clears a slot keeps the link alive until the node stops, since a worker may have
  // loaded the pointer just before (mesh::MeshMembership does).
  static constexpr std::uint32_t kMaxMeshLinks = 64;
  void set_mesh_forwarder(std::uint32_t id, MeshForwarder* link);

  const ServerConfig& config() const { return config_; }
  std::chrono::steady_clock::time_point now() const { return config_.clock(); }
  const protocol::NodePublic& public_key() const { return public_key_; }
  std::size_t worker_count() const { return workers_.size(); }
  // Whether sessions move to their home among the active workers (ServerConfig::pack_workers),
  // and how many workers are active now: read on every read of every connection.
  bool packs_workers() const { return pack_workers_; }
  // Sessions between two workers' tables (in neither): a drain counts them as still here.
  void note_departure() { departures_.fetch_add(1); }
  void note_arrival() { arrivals_.fetch_add(1); }
  std::size_t sessions_in_transit() const {
    const std::uint64_t arrived = arrivals_.load();
    return static_cast<std::size_t>(departures_.load() - arrived);
  }
  // Departures and arrivals so far: a reader of several workers' counts compares it before and
  // after to know whether a move slipped between them.
  std::uint64_t transit_events() const { return departures_.load() + arrivals_.load(); }
  std::size_t active_workers() const { return active_workers_.load(std::memory_order_relaxed); }
  Worker& worker(std::size_t i) { return *workers_[i]; }
  // Every worker's io_context, in worker order (for listeners that open one socket per worker).
  std::vector<boost::asio::io_context*> worker_contexts();
  ClientRegistry& registry() { return registry_; }
  RatePolicy& rate_policy() { return rate_policy_; }
  std::uint64_t next_conn_id() { return next_conn_id_.fetch_add(1, std::memory_order_relaxed); }
  std::chrono::system_clock::time_point started_at() const { return started_at_; }

  // Constant-time comparison with the configured mesh key (protocol §4.1).
  bool mesh_key_matches(const protocol::KeyBytes& candidate) const;

  // Routes a SendPacket from `from` (protocol §4.3). Runs on the sender's worker.
  void route_packet(ClientSession& from, const protocol::NodePublic& dst, protocol::Bytes packet);
  // Delivers a ForwardPacket from a mesh peer to a local client only (protocol §5.3).
  void deliver_forwarded(ClientSession& from, const protocol::NodePublic& src,
                         const protocol::NodePublic& dst, protocol::Bytes packet);
  // `key` is no longer reachable anywhere: tell every connection that heard from it.
  void peer_gone_from_region(const protocol::NodePublic& key);
  // Closes every local connection of `key` (ClosePeer from a mesh peer).
  void close_peer(const protocol::NodePublic& key);

  void post(std::uint32_t worker, WorkerMessage m) { workers_[worker]->post(std::move(m)); }
  ClientEventHub& events() { return events_; }
  ServerStats stats() const;

  // One interval's busy share of each worker (relay/server/worker_packing.h): the packing may
  // change the number of active workers; sessions move at their next read. Runs on worker 0's
  // thread every packing_interval once started; tests call it directly.
  void apply_packing(std::span<const double> busy);

 private:
  // Runs on `here`, the sender's worker: a destination on the same worker is served directly.
  void deliver(Worker& here, const ConnRef& to, const protocol::NodePublic& src,
               protocol::Bytes packet, bool disco);

  ServerConfig config_;
  protocol::NodePublic public_key_;
  std::vector<std::unique_ptr<Worker>> workers_;
  ClientRegistry registry_;
  ClientEventHub events_;
  RatePolicy rate_policy_;
  std::array<std::atomic<MeshForwarder*>, kMaxMeshLinks> forwarders_{};
  std::atomic<std::uint64_t> next_conn_id_{1};
  std::chrono::system_clock::time_point started_at_;
  // The packing (relay/server/worker_packing.h), judged on worker 0's thread.
  void judge_packing();
  bool pack_workers_ = false;  // config_.pack_workers, with more than one worker
  std::atomic<std::size_t> active_workers_{1};
  std::atomic<std::uint64_t> departures_{0}, arrivals_{0};  // moves between workers so far
  std::unique_ptr<WorkerPacking> packing_;
  std::unique_ptr<boost::asio::steady_timer> packing_timer_;
  std::vector<std::int64_t> last_cpu_ns_;
  std::chrono::steady_clock::time_point last_judged_;
  bool running_ = false;
};

}  // namespace derp::server
