#include "relay/server/server.h"

#include <sodium.h>

#include <cstring>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "relay/server/client_session.h"

namespace derp::server {

std::vector<boost::asio::io_context*> Server::worker_contexts() {
  std::vector<boost::asio::io_context*> out;
  for (auto& w : workers_) out.push_back(&w->io());
  return out;
}

Server::Server(ServerConfig config)
    : config_(std::move(config)),
      public_key_(config_.private_key.public_key()),
      registry_([this](std::uint32_t w, WorkerMessage m) { workers_[w]->post(std::move(m)); }),
      started_at_(std::chrono::system_clock::now()) {
  unsigned n =
      config_.workers ? config_.workers : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(i));
  pack_workers_ = config_.pack_workers && n > 1;
  active_workers_.store(pack_workers_ ? 1 : n);
  if (pack_workers_) packing_ = std::make_unique<WorkerPacking>(n, config_.packing);
}

Server::~Server() {
  stop();
}

void Server::start() {
  if (running_) return;
  running_ = true;
  for (auto& w : workers_) w->start();
  if (!pack_workers_) return;
  Worker& judge = *workers_[0];
  boost::asio::post(judge.io(), [this, &judge] {
    packing_timer_ = std::make_unique<boost::asio::steady_timer>(judge.io());
    judge.add_closer([this] { packing_timer_->cancel(); });
    last_cpu_ns_.clear();
    for (auto& w : workers_) last_cpu_ns_.push_back(w->cpu_time_ns());
    last_judged_ = std::chrono::steady_clock::now();
    judge_packing();
  });
}

void Server::judge_packing() {
  packing_timer_->expires_after(config_.packing_interval);
  packing_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec || workers_[0]->stopping()) return;
    const auto now = std::chrono::steady_clock::now();
    const double interval_ns = static_cast<double>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_judged_).count());
    last_judged_ = now;
    std::vector<double> busy(workers_.size());
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      const std::int64_t cpu = workers_[i]->cpu_time_ns();
      // A clock that could not be read (a worker already stopped) counts as idle.
      if (cpu > last_cpu_ns_[i] && interval_ns > 0) {
        busy[i] = static_cast<double>(cpu - last_cpu_ns_[i]) / interval_ns;
      }
      last_cpu_ns_[i] = cpu;
    }
    apply_packing(busy);
    judge_packing();
  });
}

void Server::apply_packing(std::span<const double> busy) {
  if (!packing_) return;
  const std::size_t before = active_workers_.load(std::memory_order_relaxed);
  const std::size_t after = packing_->observe(busy);
  if (after == before) return;
  active_workers_.store(after, std::memory_order_relaxed);
  std::string shares;
  for (double b : busy) shares += fmt::format("{}{:.0f}%", shares.empty() ? "" : " ", 100 * b);
  spdlog::info("worker packing: {} of {} workers carry clients now (was {}; workers busy {})",
               after, workers_.size(), before, shares);
}

void Server::stop() {
  if (!running_) return;
  running_ = false;
  // All at once: each worker closes its connections in parallel with the others.
  for (auto& w : workers_) w->request_stop();
  for (auto& w : workers_) w->stop();
  // A worker that was still running may have sent a connection to one already stopped: it ends
  // now, while the registry and the tables it leaves are alive.
  for (bool any = true; any;) {
    any = false;
    for (auto& w : workers_) any = w->discard_inbox() || any;
  }
}

bool Server::mesh_key_matches(const protocol::KeyBytes& candidate) const {
  if (!config_.mesh_key) return false;
  return sodium_memcmp(candidate.data(), config_.mesh_key->data(), candidate.size()) == 0;
}

void Server::deliver(Worker& here, const ConnRef& to, const protocol::NodePublic& src,
                     protocol::Bytes packet, bool disco) {
  PacketRef frame = allocate_packet(protocol::kFrameHeaderLen + protocol::kKeyLen + packet.size());
  protocol::write_recv_packet_prefix(frame->data(), src, packet.size());
  if (!packet.empty()) {
    std::memcpy(frame->data() + protocol::kFrameHeaderLen + protocol::kKeyLen, packet.data(),
                packet.size());
  }
  frame->disco = disco;
  frame->received_ns = here.batch_now_ns();
  // The registry names a moving session's new worker only once it has arrived there
  // (ClientSession::arrive); until then it still names the old one, which must not touch the
  // session once it has left (the new worker may even have ended it): its inbox forwards the
  // packet instead.
  if (here.index() == to.worker && here.holds(to.conn_id, to.session)) [[likely]] {
    to.session->enqueue_packet(std::move(frame));
  } else {
    here.counters().packets_handed_over.add();
    workers_[to.worker]->post(DeliverPacket{to.conn_id, std::move(frame)});
  }
}

void Server::set_mesh_forwarder(std::uint32_t id, MeshForwarder* link) {
  if (id >= kMaxMeshLinks) throw std::out_of_range("mesh link id out of range");
  forwarders_[id].store(link, std::memory_order_release);
}

void Server::route_packet(ClientSession& from, const protocol::NodePublic& dst,
                          protocol::Bytes packet) {
  auto& counters = from.worker().counters();
  bool disco = protocol::looks_like_disco(packet);
  counters.packets_received.add();
  counters.bytes_received.add(packet.size());
  (disco ? counters.packets_received_disco : counters.packets_received_other).add();

  auto found = registry_.lookup(dst);
  if (found.active) {
    deliver(from.worker(), *found.active, from.key(), packet, disco);
    return;
  }
  if (found.local_conns == 0 && found.forwarder && *found.forwarder < forwarders_.size()) {
    if (auto* link = forwarders_[*found.forwarder].load(std::memory_order_acquire)) {
      counters.packets_forwarded_out.add();
      link->forward(from.key(), dst, packet);
      return;
    }
  }
  DropReason reason = found.local_conns > 1 ? DropReason::kDupClient : DropReason::kUnknownDest;
  from.count_drop(reason, disco, packet.size());
  if (reason == DropReason::kUnknownDest && disco) from.maybe_send_not_here(dst);
}

void Server::deliver_forwarded(ClientSession& from, const protocol::NodePublic& src,
                               const protocol::NodePublic& dst, protocol::Bytes packet) {
  auto& counters = from.worker().counters();
  counters.packets_forwarded_in.add();
  bool disco = protocol::looks_like_disco(packet);
  auto found = registry_.lookup(dst);
  if (found.active) {
    deliver(from.worker(), *found.active, src, packet, disco);
    return;
  }
  DropReason reason =
      found.local_conns > 1 ? DropReason::kDupClient : DropReason::kUnknownDestOnFwd;
  from.count_drop(reason, disco, packet.size());
  if (reason == DropReason::kUnknownDestOnFwd && disco) from.maybe_send_not_here(dst);
}

void Server::peer_gone_from_region(const protocol::NodePublic& key) {
  for (auto& w : workers_) w->post(PeerGoneFromRegion{key});
}

void Server::close_peer(const protocol::NodePublic& key) {
  for (const auto& ref : registry_.connections_of(key)) {
    workers_[ref.worker]->post(CloseConnection{ref.conn_id, "closed by mesh peer (ClosePeer)"});
  }
}

ServerStats Server::stats() const {
  ServerStats s;
  s.workers_active = active_workers();
  double queue_sum = 0;
  for (const auto& w : workers_) {
    const auto& c = w->counters();
    s.accepts += c.accepts.value();
    s.websocket_accepts += c.websocket_accepts.value();
    s.packets_received += c.packets_received.value();
    s.bytes_received += c.bytes_received.value();
    s.packets_received_disco += c.packets_received_disco.value();
    s.packets_received_other += c.packets_received_other.value();
    s.packets_sent += c.packets_sent.value();
    s.bytes_sent += c.bytes_sent.value();
    s.got_ping += c.got_ping.value();
    s.sent_pong += c.sent_pong.value();
    s.peer_gone_disconnected_frames += c.peer_gone_disconnected_frames.value();
    s.peer_gone_not_here_frames += c.peer_gone_not_here_frames.value();
    s.unknown_frames += c.unknown_frames.value();
    s.home_moves_in += c.home_moves_in.value();
    s.home_moves_out += c.home_moves_out.value();
    s.packets_forwarded_out += c.packets_forwarded_out.value();
    s.packets_forwarded_in += c.packets_forwarded_in.value();
    s.sclient_write_timeouts += c.sclient_write_timeouts.value();
    s.handshake_failures += c.handshake_failures.value();
    s.protocol_errors += c.protocol_errors.value();
    s.http_headers_refused += c.http_headers_refused.value();
    s.rate_limit_waits += c.rate_limit_waits.value();
    s.mesh_peers_admitted += c.mesh_peers_admitted.value();
    s.sessions_moved += c.sessions_moved_in.value();
    s.packets_handed_over += c.packets_handed_over.value();
    s.current_connections += c.current_connections.value();
    s.clients_per_worker.push_back(c.current_connections.value());
    s.current_home_connections += c.current_home_connections.value();
    s.current_notideal_connections += c.current_notideal_connections.value();
    for (std::size_t r = 0; r < kDropReasonCount; ++r) {
      for (int k = 0; k < 2; ++k) {
        s.packets_dropped[r][k] += c.packets_dropped[r][k].value();
        s.bytes_dropped[r][k] += c.bytes_dropped[r][k].value();
      }
    }
    queue_sum += c.average_queue_us.load(std::memory_order_relaxed);
  }
  s.average_queue_duration_ms = queue_sum / static_cast<double>(workers_.size()) / 1000.0;
  s.registry = registry_.stats();
  s.rate_limits_in_use = rate_policy_.in_use();
  s.default_receive_rate = rate_policy_.default_rate();
  return s;
}

}  // namespace derp::server
