#include "relay/server/client_session.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "relay/logging/event.h"
#include "relay/logging/printable.h"
#include "relay/protocol/box.h"
#include "relay/server/server.h"
#include "relay/server/worker.h"
#include "relay/transport/ip_prefix.h"

namespace derp::server {

using protocol::Bytes;
using protocol::FrameType;
namespace proto = protocol;

namespace {

std::int64_t steady_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Input that is still buffered beyond this is released once a frame completes, so an idle
// connection does not keep the memory of the largest frame it ever received.
constexpr std::size_t kRetainedInputBytes = 4096;

}  // namespace

std::string_view to_string(TransportKind k) {
  switch (k) {
    case TransportKind::kPlainHttp:
      return "http";
    case TransportKind::kTls:
      return "tls";
    case TransportKind::kWebSocket:
      return "websocket";
  }
  return "unknown";
}

std::string_view to_string(DropReason r) {
  switch (r) {
    case DropReason::kUnknownDest:
      return "unknown_dest";
    case DropReason::kUnknownDestOnFwd:
      return "unknown_dest_on_fwd";
    case DropReason::kGoneDisconnected:
      return "gone_disconnected";
    case DropReason::kQueueHead:
      return "queue_head";
    case DropReason::kQueueTail:
      return "queue_tail";
    case DropReason::kWriteError:
      return "write_error";
    case DropReason::kDupClient:
      return "dup_client";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

ClientSession::ClientSession(Server& server, Worker& worker, SessionTransport& transport,
                             ConnectionInfo info)
    : server_(server),
      worker_(&worker),
      server_packs_workers_(server.packs_workers()),
      transport_(transport),
      info_(std::move(info)),
      conn_id_(server.next_conn_id()),
      disco_queue_(server.config().queue_depth),
      other_queue_(server.config().queue_depth),
      created_(server_.now()),
      connected_wall_(std::chrono::system_clock::now()) {
  not_here_refill_ = created_;
  last_activity_ns_.store(steady_ns(created_), std::memory_order_relaxed);
  worker_->add_session(conn_id_, this);
  worker_->counters().accepts.add();
}

ClientSession::~ClientSession() {
  shutdown();
}

void ClientSession::start(std::string_view http_prefix) {
  DERP_ASSERT(worker_->owns_current_thread());
  control_.assign(http_prefix.begin(), http_prefix.end());
  proto::append_server_key(control_, server_.public_key());
  wake();
}

void ClientSession::wake() {
  transport_.wake_writer();
}

bool ClientSession::fail(std::string reason) {
  // Escaped here: a reason may quote the client's bytes (a JSON parser's "last read: …"), and it
  // goes to the log and the admin API.
  if (close_reason_.empty()) close_reason_ = logging::printable(reason);
  if (!established_) {
    worker_->counters().handshake_failures.add();
  } else {
    worker_->counters().protocol_errors.add();
  }
  return false;
}

void ClientSession::close(std::string_view reason) {
  DERP_ASSERT(worker_->owns_current_thread());
  if (closing_) return;
  closing_ = true;
  if (close_reason_.empty()) close_reason_ = std::string(reason);
  transport_.close();
}

void ClientSession::leave(std::string_view reason, std::optional<protocol::RestartingFrame> hint) {
  DERP_ASSERT(worker_->owns_current_thread());
  if (closing_ || leaving_) return;
  if (!established_) return close(reason);
  if (hint) proto::append_restarting(control_, *hint);
  // What a move still holds back is queued now, so that it is written before the end.
  if (move_hold_) release_held();
  leaving_ = true;
  leave_started_ = server_.now();
  if (close_reason_.empty()) close_reason_ = std::string(reason);
  unregister();
  transport_.end_output_after_flush();
}

ClientSession::HeaderAction ClientSession::admit_header(const proto::FrameHeader& h) {
  const std::size_t len = h.length;
  if (!established_) {
    if (h.type != static_cast<std::uint8_t>(FrameType::kClientInfo)) {
      fail("first frame is not ClientInfo (type " + std::to_string(h.type) + ")");
      return HeaderAction::kReject;
    }
    if (len < proto::kMinClientInfoLen || len > proto::kMaxClientInfoLen) {
      fail("ClientInfo length " + std::to_string(len) + " out of range");
      return HeaderAction::kReject;
    }
    return HeaderAction::kRead;
  }
  auto reject = [&](std::string why) {
    fail(std::move(why));
    return HeaderAction::kReject;
  };
  // Every frame pays, skipped ones too (protocol §4.7); the transport waits once the read is done.
  if (receive_bucket_) [[unlikely]]
    receive_bucket_->take(len);
  // Any frame, even one that is skipped, makes a duplicate connection the active one (§4.2).
  if (duplicate_.load(std::memory_order_relaxed)) server_.registry().mark_active(key_, conn_id_);
  switch (static_cast<FrameType>(h.type)) {
    case FrameType::kSendPacket:
      if (len < proto::kKeyLen || len - proto::kKeyLen > proto::kMaxPacketSize) {
        return reject("SendPacket length " + std::to_string(len) + " out of range");
      }
      return HeaderAction::kRead;
    case FrameType::kForwardPacket:
      // The permission check comes before the length checks (protocol §2.6).
      if (!can_mesh_) return reject("ForwardPacket without mesh key");
      if (len < 2 * proto::kKeyLen || len - 2 * proto::kKeyLen > proto::kMaxPacketSize) {
        return reject("ForwardPacket length " + std::to_string(len) + " out of range");
      }
      return HeaderAction::kRead;
    case FrameType::kNotePreferred:
      if (len != 1) return reject("NotePreferred length " + std::to_string(len));
      return HeaderAction::kRead;
    case FrameType::kWatchConns:
      if (len != 0) return reject("WatchConns length " + std::to_string(len));
      return HeaderAction::kRead;
    case FrameType::kClosePeer:
      if (len != proto::kKeyLen) return reject("ClosePeer length " + std::to_string(len));
      return HeaderAction::kRead;
    case FrameType::kPing:
      if (len < proto::kMinPingLen || len > proto::kMaxPingLen) {
        return reject("Ping length " + std::to_string(len) + " out of range");
      }
      return HeaderAction::kRead;
    default:
      worker_->counters().unknown_frames.add();
      return HeaderAction::kSkip;
  }
}

bool ClientSession::hold(Bytes data) {
  if (held_.size() + data.size() > kMaxBytesBeforeAdmission) {
    return fail("sent more than " + std::to_string(kMaxBytesBeforeAdmission) +
                " bytes while its admission was being checked");
  }
  held_.insert(held_.end(), data.begin(), data.end());
  return true;
}

bool ClientSession::stopped_at(Bytes rest) {
  return !closing_ && awaiting_admission_ && hold(rest);
}

bool ClientSession::on_bytes(Bytes data) {
  DERP_ASSERT(worker_->owns_current_thread());
  if (closing_ || awaiting_admission_) [[unlikely]] {
    return !closing_ && hold(data);
  }
  const auto now = server_.now();
  const std::int64_t now_ns = steady_ns(now);
  last_activity_ns_.store(now_ns, std::memory_order_relaxed);
  if (receive_bucket_) [[unlikely]]
    receive_bucket_->refill(now);
  worker_->set_batch_now_ns(now_ns);  // stamps the packets routed from these bytes
  while (!data.empty()) {
    if (skip_ > 0) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, data.size()));
      skip_ -= n;
      data = data.subspan(n);
      continue;
    }
    if (!pending_.empty()) {
      if (pending_.size() < proto::kFrameHeaderLen) {
        std::size_t n = std::min(proto::kFrameHeaderLen - pending_.size(), data.size());
        pending_.insert(pending_.end(), data.begin(), data.begin() + n);
        data = data.subspan(n);
        if (pending_.size() < proto::kFrameHeaderLen) return true;
        auto h = *proto::parse_frame_header(pending_);
        switch (admit_header(h)) {
          case HeaderAction::kReject:
            return false;
          case HeaderAction::kSkip:
            skip_ = h.length;
            pending_.clear();
            continue;
          case HeaderAction::kRead:
            break;  // the buffer grows with the bytes that arrive, never by the declared length
        }
      }
      auto h = *proto::parse_frame_header(pending_);
      std::size_t total = proto::kFrameHeaderLen + h.length;
      std::size_t n = std::min(total - pending_.size(), data.size());
      pending_.insert(pending_.end(), data.begin(), data.begin() + n);
      data = data.subspan(n);
      if (pending_.size() < total) return true;
      bool ok = dispatch(h.type, Bytes(pending_).subspan(proto::kFrameHeaderLen));
      pending_.clear();
      if (pending_.capacity() > kRetainedInputBytes) std::vector<std::uint8_t>().swap(pending_);
      if (!ok || closing_) return stopped_at(data);
      continue;
    }
    if (data.size() < proto::kFrameHeaderLen) {
      pending_.assign(data.begin(), data.end());
      return true;
    }
    auto h = *proto::parse_frame_header(data);
    switch (admit_header(h)) {
      case HeaderAction::kReject:
        return false;
      case HeaderAction::kSkip:
        skip_ = h.length;
        data = data.subspan(proto::kFrameHeaderLen);
        continue;
      case HeaderAction::kRead:
        break;
    }
    std::size_t total = proto::kFrameHeaderLen + h.length;
    if (data.size() < total) {
      // Only what arrived is held: a 5-byte header declaring 256 KiB costs a stranger nothing
      // until the bytes come (the vector grows geometrically, at most twice what arrived).
      pending_.assign(data.begin(), data.end());
      return true;
    }
    if (!dispatch(h.type, data.subspan(proto::kFrameHeaderLen, h.length)) || closing_) {
      return stopped_at(data.subspan(total));
    }
    data = data.subspan(total);
  }
  return true;
}

bool ClientSession::dispatch(std::uint8_t type, Bytes payload) {
  if (!established_) return handle_client_info(payload);
  // A leaving client's last packets are still relayed; nothing else it says matters any more (its
  // output has ended and it is no longer registered).
  if (leaving_ && type != static_cast<std::uint8_t>(FrameType::kSendPacket) &&
      type != static_cast<std::uint8_t>(FrameType::kForwardPacket)) {
    return true;
  }
  switch (static_cast<FrameType>(type)) {
    case FrameType::kSendPacket:
      return handle_send_packet(payload);
    case FrameType::kForwardPacket:
      return handle_forward_packet(payload);
    case FrameType::kNotePreferred:
      return handle_note_preferred(payload);
    case FrameType::kPing:
      return handle_ping(payload);
    case FrameType::kWatchConns:
      return handle_watch_conns();
    case FrameType::kClosePeer:
      return handle_close_peer(payload);
    default:
      return true;  // admit_header() skips everything else
  }
}

bool ClientSession::handle_client_info(Bytes payload) {
  auto frame = proto::parse_client_info(payload);
  if (!frame) return fail(std::string("ClientInfo: ") + std::string(to_string(frame.error)));
  if (frame.value.key.is_zero()) return fail("ClientInfo: all-zero client key");
  // One scalar multiplication for both boxes of the handshake. A small-order client key has no
  // shared key: its box cannot open.
  auto shared = proto::box_key(server_.config().private_key, frame.value.key);
  auto json = shared ? proto::open_box(frame.value.sealed, *shared) : std::nullopt;
  if (!json) return fail("ClientInfo: box does not open with this server's key");
  auto parsed = proto::parse_client_info_json(
      std::string_view(reinterpret_cast<const char*>(json->data()), json->size()));
  if (!parsed.info) return fail("ClientInfo: " + parsed.error);
  // Mesh peers are admitted before any check (protocol §4.9).
  const auto& admit = server_.config().admit;
  const bool mesh_peer = parsed.info->mesh_key && server_.mesh_key_matches(*parsed.info->mesh_key);
  if (!admit || mesh_peer) {
    if (admit) worker_->counters().mesh_peers_admitted.add();
    establish(frame.value.key, std::move(*parsed.info), *shared);
    return true;
  }
  awaiting_admission_ = std::make_unique<AwaitingAdmission>(
      AwaitingAdmission{frame.value.key, std::move(*parsed.info), *shared});
  // The answer comes back through the worker's inbox; by then the connection may be gone.
  Worker* worker = worker_;
  std::optional<boost::asio::ip::address> source;
  if (info_.remote_ip != std::array<std::uint8_t, 16>{}) {
    source = transport::address_from_key(info_.remote_ip);
  }
  admit(frame.value.key, source, [worker, id = conn_id_](bool admitted, std::string reason) {
    worker->post(RunOnWorker{[worker, id, admitted, reason = std::move(reason)] {
      if (ClientSession* s = worker->find_session(id)) s->admission_decided(admitted, reason);
    }});
  });
  // Stops the frame loop (no per-frame check there): on_bytes holds what follows.
  return false;
}

void ClientSession::admission_decided(bool admit, const std::string& reason) {
  DERP_ASSERT(worker_->owns_current_thread());
  if (!awaiting_admission_ || closing_) return;
  AwaitingAdmission a = std::move(*awaiting_admission_);
  awaiting_admission_.reset();
  if (!admit) {
    fail("not admitted: " + reason);
    close(close_reason_);
    return;
  }
  establish(a.key, std::move(a.info), a.shared);
  if (held_.empty()) return;
  std::vector<std::uint8_t> held = std::move(held_);
  held_.clear();
  if (!on_bytes(held)) close(close_reason_);
}

void ClientSession::establish(const proto::NodePublic& key, proto::ClientInfo info,
                              const proto::BoxKey& shared) {
  key_ = key;
  client_info_ = std::move(info);
  can_mesh_ = client_info_.mesh_key && server_.mesh_key_matches(*client_info_.mesh_key);

  // ServerInfo is queued before the key is registered, so nothing can precede it (protocol §2.4.7).
  auto server_info = proto::write_server_info_json({});
  auto sealed = proto::seal_box(
      Bytes(reinterpret_cast<const std::uint8_t*>(server_info.data()), server_info.size()), shared);
  proto::append_server_info(control_, sealed);

  established_ = true;
  established_at_ = server_.now();
  apply_rate_policy();
  next_keepalive_ = established_at_ + next_keepalive_delay();

  proto::PeerPresentFrame presence;
  presence.key = key_;
  presence.ip = info_.remote_ip;
  presence.port = info_.remote_port;
  presence.flags = 0;
  if (can_mesh_) presence.flags |= proto::kPeerPresentIsMeshPeer;
  if (client_info_.is_prober) presence.flags |= proto::kPeerPresentIsProber;
  if (info_.not_ideal) presence.flags |= proto::kPeerPresentNotIdeal;
  if (presence.flags == 0) presence.flags = proto::kPeerPresentIsRegular;

  count_in_gauges(+1);
  server_.registry().add(key_, ConnRef{worker_->index(), conn_id_, this}, presence);
  registered_ = true;
  server_.events().publish(
      {ClientEvent::Kind::kConnected, conn_id_, key_, info_.remote_text, preferred_, {}});
  // Per-client lines at debug: a busy node has thousands of clients come and go, and strangers
  // could otherwise fill the log. Mesh peers are few and matter: those stay at info.
  logging::log_event(can_mesh_ ? spdlog::level::info : spdlog::level::debug, "client_connected",
                     {{"key", key_.to_text()},
                      {"remote", info_.remote_text},
                      {"transport", std::string(to_string(info_.transport))},
                      {"mesh_peer", can_mesh_ ? "true" : "false"},
                      {"prober", client_info_.is_prober ? "true" : "false"}},
                     "client {} connected from {} over {}{}{}", key_.short_form(),
                     info_.remote_text, to_string(info_.transport), can_mesh_ ? " (mesh peer)" : "",
                     client_info_.is_prober ? " (prober)" : "");
  wake();
}

bool ClientSession::handle_send_packet(Bytes payload) {
  auto f = proto::parse_send_packet(payload);
  if (!f) return fail("SendPacket: " + std::string(to_string(f.error)));
  ++packets_in_;
  bytes_in_ += f.value.packet.size();
  server_.route_packet(*this, f.value.dst, f.value.packet);
  return true;
}

bool ClientSession::handle_forward_packet(Bytes payload) {
  auto f = proto::parse_forward_packet(payload);
  if (!f) return fail("ForwardPacket: " + std::string(to_string(f.error)));
  ++packets_in_;
  bytes_in_ += f.value.packet.size();
  server_.deliver_forwarded(*this, f.value.src, f.value.dst, f.value.packet);
  return true;
}

bool ClientSession::handle_note_preferred(Bytes payload) {
  auto f = proto::parse_note_preferred(payload);
  if (!f) return fail("NotePreferred: " + std::string(to_string(f.error)));
  bool preferred = f.value;
  if (preferred == preferred_) return true;
  preferred_ = preferred;
  server_.events().publish(
      {ClientEvent::Kind::kHomeChanged, conn_id_, key_, info_.remote_text, preferred, {}});
  auto& counters = worker_->counters();
  counters.current_home_connections.add(preferred ? 1 : -1);
  if (server_.now() - established_at_ > std::chrono::seconds(5)) {
    (preferred ? counters.home_moves_in : counters.home_moves_out).add();
  }
  return true;
}

bool ClientSession::handle_ping(Bytes payload) {
  auto f = proto::parse_ping(payload);
  if (!f) return fail("Ping: " + std::string(to_string(f.error)));
  worker_->counters().got_ping.add();
  // One pending pong at most: a ping that arrives while one is unsent gets no reply.
  if (pending_pong_) return true;
  pending_pong_ = f.value;
  wake();
  return true;
}

bool ClientSession::handle_watch_conns() {
  if (!can_mesh_) return fail("WatchConns without mesh key");
  if (key_ == server_.public_key() || watcher_) return true;
  watcher_ = true;
  server_.registry().add_watcher(ConnRef{worker_->index(), conn_id_, this});
  return true;
}

bool ClientSession::handle_close_peer(Bytes payload) {
  auto f = proto::parse_close_peer(payload);
  if (!f) return fail("ClosePeer: " + std::string(to_string(f.error)));
  if (!can_mesh_) return fail("ClosePeer without mesh key");
  spdlog::info("mesh peer {} asked to close {}", key_.short_form(), f.value.short_form());
  server_.close_peer(f.value);
  return true;
}

void ClientSession::enqueue_packet(PacketRef frame, bool forwarded) {
  DERP_ASSERT(worker_->owns_current_thread());
  if (closing_ || shut_down_ || leaving_) {
    count_drop(DropReason::kGoneDisconnected, frame->disco, frame->packet_bytes());
    return;
  }
  if (move_hold_ && !forwarded) [[unlikely]] {
    // Bounded like the queue it waits for: the oldest goes first.
    auto& held = move_hold_->held;
    if (held.size() >= other_queue_.capacity()) {
      count_drop(DropReason::kQueueHead, held.front()->disco, held.front()->packet_bytes());
      held.erase(held.begin());
    }
    held.push_back(std::move(frame));
    return;
  }
  SendQueue& q = frame->disco ? disco_queue_ : other_queue_;
  if (PacketRef dropped = q.push(std::move(frame))) {
    count_drop(DropReason::kQueueHead, dropped->disco, dropped->packet_bytes());
  }
  wake();
}

void ClientSession::count_drop(DropReason reason, bool disco, std::size_t bytes) {
  worker_->counters().count_drop(reason, disco, bytes);
  ++drops_by_reason_[static_cast<std::size_t>(reason)];
}

void ClientSession::queue_peer_gone(const proto::NodePublic& key, proto::PeerGoneReason reason) {
  DERP_ASSERT(worker_->owns_current_thread());
  if (closing_ || leaving_) return;
  proto::append_peer_gone(control_, key, reason);
  auto& counters = worker_->counters();
  (reason == proto::PeerGoneReason::kNotHere ? counters.peer_gone_not_here_frames
                                             : counters.peer_gone_disconnected_frames)
      .add();
  wake();
}

void ClientSession::queue_peer_present(const proto::PeerPresentFrame& presence) {
  DERP_ASSERT(worker_->owns_current_thread());
  if (closing_ || leaving_ || !watcher_) return;
  proto::append_peer_present(control_, presence);
  wake();
}

void ClientSession::queue_restarting(const proto::RestartingFrame& hint) {
  DERP_ASSERT(worker_->owns_current_thread());
  if (closing_ || leaving_ || !established_) return;
  proto::append_restarting(control_, hint);
  wake();
}

void ClientSession::peer_left_region(const proto::NodePublic& key) {
  peers_heard_from_.erase(key);
  queue_peer_gone(key, proto::PeerGoneReason::kDisconnected);
}

void ClientSession::maybe_send_not_here(const proto::NodePublic& key) {
  DERP_ASSERT(worker_->owns_current_thread());
  auto now = server_.now();
  not_here_tokens_ = std::min(
      3.0, not_here_tokens_ + std::chrono::duration<double>(now - not_here_refill_).count());
  not_here_refill_ = now;
  if (not_here_tokens_ < 1.0) return;
  not_here_tokens_ -= 1.0;
  queue_peer_gone(key, proto::PeerGoneReason::kNotHere);
}

bool ClientSession::has_output() const {
  return !control_.empty() || pending_pong_ || !disco_queue_.empty() || !other_queue_.empty();
}

void ClientSession::append_packet(std::vector<std::uint8_t>& out, PacketRef p,
                                  std::int64_t now_ns) {
  auto& counters = worker_->counters();
  auto bytes = p->bytes();
  out.insert(out.end(), bytes.begin(), bytes.end());
  const std::size_t packet_bytes = p->packet_bytes();
  counters.packets_sent.add();
  counters.bytes_sent.add(packet_bytes);
  ++packets_out_;
  bytes_out_ += packet_bytes;
  counters.note_queue_delay_us(static_cast<double>(now_ns - p->received_ns) / 1000.0);
  auto src = proto::NodePublic::from_span(bytes.subspan(proto::kFrameHeaderLen, proto::kKeyLen));
  if (peers_heard_from_.insert(src).second) worker_->subscribe_peer_gone(src, conn_id_);
}

void ClientSession::take_output(std::vector<std::uint8_t>& out, std::size_t soft_limit) {
  DERP_ASSERT(worker_->owns_current_thread());
  if (!control_.empty()) {
    out.insert(out.end(), control_.begin(), control_.end());
    // Let go of the storage too: control frames are rare (a keep-alive a minute, a PeerGone now
    // and then), and keeping what the first write needed (the HTTP 101 answer and the ServerKey
    // frame) cost every idle connection ~340 bytes (heaptrack, 5,000 idle connections).
    std::vector<std::uint8_t>().swap(control_);
  }
  if (pending_pong_) {
    proto::append_pong(out, *pending_pong_);
    pending_pong_.reset();
    worker_->counters().sent_pong.add();
  }
  // Serve both queues in turn so neither kind starves the other (protocol §4.4).
  const std::int64_t now_ns = steady_ns(server_.now());
  while (out.size() < soft_limit && (!disco_queue_.empty() || !other_queue_.empty())) {
    SendQueue* first = serve_disco_first_ ? &disco_queue_ : &other_queue_;
    SendQueue* second = serve_disco_first_ ? &other_queue_ : &disco_queue_;
    serve_disco_first_ = !serve_disco_first_;
    SendQueue& q = first->empty() ? *second : *first;
    append_packet(out, q.pop(), now_ns);
  }
}

std::chrono::milliseconds ClientSession::next_keepalive_delay() {
  auto jitter = server_.config().keepalive_jitter.count();
  auto extra =
      jitter > 0
          ? static_cast<std::int64_t>(randombytes_uniform(static_cast<std::uint32_t>(jitter)))
          : 0;
  return server_.config().keepalive_interval + std::chrono::milliseconds(extra);
}

void ClientSession::on_tick(std::chrono::steady_clock::time_point now) {
  DERP_ASSERT(worker_->owns_current_thread());
  if (closing_) return;
  if (!established_) {
    if (now - created_ >= server_.config().handshake_timeout) {
      fail("handshake timed out");
      close("handshake timed out");
    }
    return;
  }
  auto timeout = can_mesh_ ? server_.config().mesh_write_timeout : server_.config().write_timeout;
  if (timeout.count() > 0 && transport_.write_stalled(now, timeout)) {
    worker_->counters().sclient_write_timeouts.add();
    close("write timed out");
    return;
  }
  if (move_hold_ && now - move_hold_->arrived_at >= kMoveSettlesWithin) [[unlikely]] {
    release_held();
  }
  if (leaving_) {
    if (now - leave_started_ >= kLeaveLinger) close(close_reason_);
    return;
  }
  if (now >= next_keepalive_) {
    next_keepalive_ = now + next_keepalive_delay();
    proto::append_keep_alive(control_);
    wake();
  }
  disco_queue_.release_if_empty();
  other_queue_.release_if_empty();
}

void ClientSession::shutdown() {
  // Checked first: a connection that moved to another worker may be destroyed on its old one, by
  // the last of the handlers it left queued there (relay/http/socket_connection.h).
  if (shut_down_) return;
  DERP_ASSERT(worker_->owns_current_thread());
  shut_down_ = true;
  closing_ = true;
  for (SendQueue* q : {&disco_queue_, &other_queue_}) {
    while (!q->empty()) {
      PacketRef p = q->pop();
      count_drop(DropReason::kGoneDisconnected, p->disco, p->packet_bytes());
    }
  }
  if (move_hold_) {
    for (const auto& p : move_hold_->held) {
      count_drop(DropReason::kGoneDisconnected, p->disco, p->packet_bytes());
    }
    move_hold_.reset();
  }
  if (!registered_ && !leaving_ && !close_reason_.empty()) {
    spdlog::debug("connection from {} closed during handshake: {}", info_.remote_text,
                  close_reason_);
  }
  unregister();
  worker_->remove_session(conn_id_);
}

// Takes the session out of the registry, the watchers and the PeerGone subscriptions: from here on
// nothing is routed to it. Runs once, at leave() or at shutdown(), whichever comes first.
void ClientSession::unregister() {
  for (const auto& src : peers_heard_from_) worker_->unsubscribe_peer_gone(src, conn_id_);
  peers_heard_from_.clear();
  if (watcher_) {
    watcher_ = false;
    server_.registry().remove_watcher(conn_id_);
  }
  if (!registered_) return;
  registered_ = false;
  count_in_gauges(-1);
  if (server_.registry().remove(key_, conn_id_)) server_.peer_gone_from_region(key_);
  const std::string& why = close_reason_.empty() ? std::string("connection closed") : close_reason_;
  server_.events().publish(
      {ClientEvent::Kind::kDisconnected, conn_id_, key_, info_.remote_text, preferred_, why});
  logging::log_event(can_mesh_ ? spdlog::level::info : spdlog::level::debug, "client_disconnected",
                     {{"key", key_.to_text()}, {"remote", info_.remote_text}, {"reason", why}},
                     "client {} from {} {}: {}", key_.short_form(), info_.remote_text,
                     leaving_ ? "leaving" : "disconnected", why);
}

void ClientSession::count_in_gauges(int sign) {
  auto& counters = worker_->counters();
  counters.current_connections.add(sign);
  if (info_.not_ideal) counters.current_notideal_connections.add(sign);
  if (preferred_) counters.current_home_connections.add(sign);
}

std::optional<std::uint32_t> ClientSession::packing_move_wanted() {
  const std::size_t active = server_.active_workers();
  if (active == placed_for_active_) [[likely]]
    return std::nullopt;
  // Nor while its last move has not settled: packets it holds back are newer than what an old
  // worker may still pass on, and a second move would let those overtake them. It moves later.
  if (!registered_ || can_mesh_ || watcher_ || leaving_ || closing_ || awaiting_admission_ ||
      move_hold_ || duplicate_.load(std::memory_order_relaxed)) {
    return std::nullopt;
  }
  const std::uint32_t home = home_worker(conn_id_, active);
  if (home == worker_->index()) {
    placed_for_active_ = active;
    return std::nullopt;
  }
  moving_for_active_ = active;
  return home;
}

void ClientSession::depart(Worker& to) {
  DERP_ASSERT(worker_->owns_current_thread());
  placed_for_active_ = moving_for_active_;
  server_.note_departure();  // before it leaves the table: a drain must always see it somewhere
  for (const auto& src : peers_heard_from_) worker_->unsubscribe_peer_gone(src, conn_id_);
  if (registered_) count_in_gauges(-1);
  worker_->remove_session(conn_id_);
  worker_->forward_messages_of(conn_id_, to);
  // Never while a hold is on: move_wanted() waits for the last move to settle.
  move_hold_ = std::make_unique<MoveHold>();
  move_hold_->from = worker_;
  worker_ = &to;
}

void ClientSession::arrive() {
  DERP_ASSERT(worker_->owns_current_thread());
  worker_->add_session(conn_id_, this);
  // A peer that left the region while this session was between workers was announced to both
  // before it subscribed here and after it unsubscribed there: ask the registry instead. (A peer
  // that leaves from now on is announced here, on this thread, after the subscription.)
  std::vector<proto::NodePublic> gone;
  for (const auto& src : peers_heard_from_) {
    if (server_.registry().lookup(src).reachable()) {
      worker_->subscribe_peer_gone(src, conn_id_);
    } else {
      gone.push_back(src);
    }
  }
  for (const auto& src : gone) peer_left_region(src);
  if (registered_) {
    count_in_gauges(+1);
    server_.registry().move(key_, conn_id_, worker_->index());
  }
  worker_->counters().sessions_moved_in.add();
  server_.note_arrival();
  if (!move_hold_) return;
  move_hold_->arrived_at = server_.now();
  move_hold_->from->post(
      RunOnWorker{[here = worker_, id = conn_id_] { here->post(MoveSettled{id}); }});
}

void ClientSession::move_settled() {
  DERP_ASSERT(worker_->owns_current_thread());
  if (move_hold_) release_held();
}

void ClientSession::release_held() {
  std::vector<PacketRef> held = std::move(move_hold_->held);
  move_hold_.reset();
  for (auto& p : held) enqueue_packet(std::move(p));
}

void ClientSession::apply_rate_policy() {
  DERP_ASSERT(worker_->owns_current_thread());
  auto choice = server_.rate_policy().for_key(key_);
  if (can_mesh_) choice = {};  // the region's own links are never slowed (protocol §4.7)
  receive_rate_ = choice.rate;
  receive_rate_overridden_ = choice.overridden;
  if (choice.rate.limited()) {
    receive_bucket_.emplace(choice.rate, server_.now());
  } else {
    receive_bucket_.reset();
  }
  transport_.input_limit_changed();
}

std::chrono::nanoseconds ClientSession::owed_input_pause() {
  const auto wait = receive_bucket_->owed_wait();
  if (wait.count() > 0) worker_->counters().rate_limit_waits.add();
  return wait;
}

SessionSnapshot ClientSession::snapshot() const {
  SessionSnapshot s;
  s.conn_id = conn_id_;
  s.key = key_;
  s.info = info_;
  s.established = established_;
  s.preferred = preferred_;
  s.can_mesh = can_mesh_;
  s.is_prober = client_info_.is_prober;
  s.duplicate = duplicate_.load(std::memory_order_relaxed);
  s.watcher = watcher_;
  s.connected_at = connected_wall_;
  auto idle = server_.now().time_since_epoch() -
              std::chrono::nanoseconds(last_activity_ns_.load(std::memory_order_relaxed));
  s.last_activity = std::chrono::system_clock::now() -
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(idle);
  s.packets_in = packets_in_;
  s.bytes_in = bytes_in_;
  s.packets_out = packets_out_;
  s.bytes_out = bytes_out_;
  s.drops_by_reason = drops_by_reason_;
  for (auto n : drops_by_reason_) s.drops += n;
  s.queue_depth = disco_queue_.size() + other_queue_.size();
  s.receive_rate = receive_rate_;
  s.receive_rate_overridden = receive_rate_overridden_;
  return s;
}

}  // namespace derp::server
