// One client's DERP session (protocol §2.4–§2.6, §4), with no I/O of its own: the transport feeds
// it received bytes and asks it for bytes to write. Everything here runs on the owning worker's
// thread, except set_duplicate(), which the registry calls under its lock.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "relay/limits/receive_rate.h"
#include "relay/protocol/box.h"
#include "relay/protocol/client_info.h"
#include "relay/protocol/frame.h"
#include "relay/server/counters.h"
#include "relay/server/packet_pool.h"
#include "relay/server/send_queue.h"
#include "relay/server/session_transport.h"

namespace derp::server {

class Server;
class Worker;

enum class TransportKind { kPlainHttp, kTls, kWebSocket };
std::string_view to_string(TransportKind k);

struct ConnectionInfo {
  TransportKind transport = TransportKind::kPlainHttp;
  std::array<std::uint8_t, 16> remote_ip{};  // IPv4 as v4-mapped; all zero when unknown
  std::uint16_t remote_port = 0;
  std::string remote_text;  // "ip:port" for logs and the admin API
  bool not_ideal = false;   // the upgrade carried Ideal-Node (protocol §4.6)
};

// A point-in-time copy of a session's state, for the admin API and debug pages.
struct SessionSnapshot {
  std::uint64_t conn_id = 0;
  protocol::NodePublic key;
  ConnectionInfo info;
  bool established = false;
  bool preferred = false;
  bool can_mesh = false;
  bool is_prober = false;
  bool duplicate = false;
  bool watcher = false;
  std::chrono::system_clock::time_point connected_at;
  std::chrono::system_clock::time_point last_activity;
  std::uint64_t packets_in = 0, bytes_in = 0, packets_out = 0, bytes_out = 0;
  std::uint64_t drops = 0;
  std::array<std::uint64_t, kDropReasonCount> drops_by_reason{};
  std::size_t queue_depth = 0;
  limits::ReceiveRate receive_rate;  // in force on this connection; not limited for mesh peers
  bool receive_rate_overridden = false;
};

class ClientSession {
 public:
  ClientSession(Server& server, Worker& worker, SessionTransport& transport, ConnectionInfo info);
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // Queues `http_prefix` (the 101 response, or nothing for fast start) and the ServerKey frame.
  void start(std::string_view http_prefix);
  // Processes received bytes. Returns false when the connection must close (see close_reason()).
  bool on_bytes(protocol::Bytes data);
  // The second half of the handshake, once the ClientInfo box of `key` has opened with `shared`:
  // queues ServerInfo and registers the client. on_bytes() gets here by itself; the session fuzz
  // target calls it directly so that each input skips a scalar multiplication and a JSON parse.
  void establish(const protocol::NodePublic& key, protocol::ClientInfo info,
                 const protocol::BoxKey& shared);
  // The admission check's answer (ServerConfig::admit), on this worker's thread: establishes the
  // session and processes what the client sent meanwhile, or closes it.
  void admission_decided(bool admit, const std::string& reason);
  bool awaiting_admission() const { return awaiting_admission_ != nullptr; }
  // What a client may send after its ClientInfo while it waits for admission (a real client
  // waits for ServerInfo and sends nothing).
  static constexpr std::size_t kMaxBytesBeforeAdmission = 64 * 1024;
  bool has_output() const;
  // How long the transport stops reading before it reads again, once on_bytes() has returned:
  // the receive limit's debt (protocol §4.7). Zero, at the cost of one test, without a limit.
  std::chrono::nanoseconds input_pause() {
    if (!receive_bucket_) [[likely]]
      return {};
    return owed_input_pause();
  }
  // Replaces this connection's receive limit (and its bucket, full) by what the server's
  // RatePolicy says for its key now. Mesh peers stay unlimited.
  void apply_rate_policy();
  const limits::ReceiveRate& receive_rate() const { return receive_rate_; }
  // Appends pending frames to `out`, stopping once it holds at least `soft_limit` bytes.
  void take_output(std::vector<std::uint8_t>& out, std::size_t soft_limit);
  void on_tick(std::chrono::steady_clock::time_point now);
  // Asks the transport to close; the session stops accepting packets at once.
  void close(std::string_view reason);
  // Ends the session gently (a drain): the key leaves the registry at once, so packets for it
  // follow it to wherever it reconnects; what is queued is still written, optionally after a
  // Restarting frame; then the output ends cleanly while the client's own last packets are still
  // read and relayed. Sessions still in the handshake are closed.
  void leave(std::string_view reason, std::optional<protocol::RestartingFrame> hint);
  // How long a leaving session waits for the client to close its side once its output ended.
  // Real clients close as soon as they read the end of the stream (milliseconds); this bounds
  // what one that never does can hold.
  static constexpr std::chrono::seconds kLeaveLinger{3};
  // Called by the transport once the connection is finished: unregisters and accounts.
  void shutdown();

  // Delivery, on this worker's thread. `forwarded`: passed on by a worker this session left.
  void enqueue_packet(PacketRef frame, bool forwarded = false);
  void queue_peer_gone(const protocol::NodePublic& key, protocol::PeerGoneReason reason);
  void queue_peer_present(const protocol::PeerPresentFrame& presence);
  void peer_left_region(const protocol::NodePublic& key);
  // Tells the client the node is going away and when to come back (protocol §6).
  void queue_restarting(const protocol::RestartingFrame& hint);
  // Sends PeerGone(NotHere) if this connection's limiter (1/s, burst 3) allows.
  void maybe_send_not_here(const protocol::NodePublic& key);

  // Worker packing (relay/server/worker_packing.h): the worker this session should move to, when
  // the active workers changed since it was placed and its home among them is another. Asked by
  // the transport at the end of a read or write; it moves at its next quiet moment. Mesh peers and
  // watchers stay where they are: their traffic spans the node, and a watcher's stream of
  // PeerPresent/PeerGone must keep its order. So does a session not yet established (or waiting
  // for admission) and a duplicate, whose route is in flux.
  std::optional<std::uint32_t> move_wanted() {
    if (!server_packs_workers_) [[likely]]
      return std::nullopt;
    return packing_move_wanted();
  }
  // On the old worker's thread: leaves its tables for `to`'s. From here on only `to`'s thread may
  // touch the session; the transport hands itself to `to`, where arrive() runs. Only arrive()
  // points the registry at `to`: until then packets go to the old worker and are forwarded
  // (Worker::forward_messages_of), behind the arrival in `to`'s inbox, and two moves in quick
  // succession update the registry in the order they happened.
  void depart(Worker& to);
  void arrive();
  // Packets routed to the old worker before arrive() reach the new one later, passed on through
  // the old worker's inbox, while packets routed since go straight to the session: they would
  // overtake. So from arrive() until a marker sent round the old worker's inbox comes back (every
  // packet routed there has then been passed on), packets that were not passed on are held back,
  // in order, and queued behind the passed-on ones. The session does not move again before
  // then (move_wanted). A packet that reached the old worker after the marker (routed just
  // before arrive() and handed over just after) can still overtake.
  void move_settled();

  // Counts a dropped packet node-wide and against this client: packets for it (queue overflow,
  // gone) and packets from it that had nowhere to go (unknown destination).
  void count_drop(DropReason reason, bool disco, std::size_t bytes);

  void set_duplicate(bool dup) { duplicate_.store(dup, std::memory_order_relaxed); }
  std::uint64_t conn_id() const { return conn_id_; }
  const protocol::NodePublic& key() const { return key_; }
  bool established() const { return established_; }
  bool can_mesh() const { return can_mesh_; }
  bool closing() const { return closing_; }
  bool leaving() const { return leaving_; }
  // When the client last sent anything (steady clock, ns since its epoch): how busy it is.
  std::int64_t last_activity_ns() const {
    return last_activity_ns_.load(std::memory_order_relaxed);
  }
  const std::string& close_reason() const { return close_reason_; }
  const ConnectionInfo& info() const { return info_; }
  Worker& worker() const { return *worker_; }

  SessionSnapshot snapshot() const;
  // Bytes reserved for reassembling a partly received frame (what an idle or slow sender holds).
  std::size_t input_buffer_capacity() const { return pending_.capacity(); }

 private:
  enum class HeaderAction { kRead, kSkip, kReject };
  HeaderAction admit_header(const protocol::FrameHeader& h);
  bool dispatch(std::uint8_t type, protocol::Bytes payload);
  // False also when the client now awaits admission: the frame loop stops there (stopped_at).
  bool handle_client_info(protocol::Bytes payload);
  bool handle_send_packet(protocol::Bytes payload);
  bool handle_forward_packet(protocol::Bytes payload);
  bool handle_note_preferred(protocol::Bytes payload);
  bool handle_ping(protocol::Bytes payload);
  bool handle_watch_conns();
  bool handle_close_peer(protocol::Bytes payload);
  bool fail(std::string reason);
  std::chrono::nanoseconds owed_input_pause();
  void wake();
  void unregister();
  // This session's share of its worker's connection gauges: +1 when it registers or arrives, -1
  // when it unregisters or departs.
  void count_in_gauges(int sign);
  std::optional<std::uint32_t> packing_move_wanted();
  void append_packet(std::vector<std::uint8_t>& out, PacketRef p, std::int64_t now_ns);
  std::chrono::milliseconds next_keepalive_delay();
  // Queues what a move held back, in order, and ends the hold.
  void release_held();

  Server& server_;
  Worker* worker_;
  // Server::packs_workers(), kept here because move_wanted() is inline on the read and write
  // paths and Server is only declared in this header.
  const bool server_packs_workers_;
  SessionTransport& transport_;
  ConnectionInfo info_;
  const std::uint64_t conn_id_;

  protocol::NodePublic key_;
  protocol::ClientInfo client_info_;
  bool established_ = false;
  bool registered_ = false;
  bool can_mesh_ = false;
  bool watcher_ = false;
  bool preferred_ = false;
  bool closing_ = false;
  bool leaving_ = false;  // leave(): output ending, input still relayed
  bool shut_down_ = false;
  std::atomic<bool> duplicate_{false};
  std::string close_reason_;
  std::size_t placed_for_active_ = 0;  // active workers when last placed; 0: never
  std::size_t moving_for_active_ = 0;  // the active count move_wanted() chose the home for

  // Input reassembly: a frame split across reads is gathered here; whole frames are parsed in
  // place.
  std::vector<std::uint8_t> pending_;
  struct AwaitingAdmission {
    protocol::NodePublic key;
    protocol::ClientInfo info;
    protocol::BoxKey shared;
  };
  // Held apart: only a connection in its first moments has one, and inline it cost every
  // connection ~150 bytes.
  std::unique_ptr<AwaitingAdmission> awaiting_admission_;
  std::vector<std::uint8_t> held_;  // received while awaiting admission
  bool hold(protocol::Bytes data);
  // What on_bytes returns once dispatch() stopped it: the rest waits if admission is pending.
  bool stopped_at(protocol::Bytes rest);
  std::uint64_t skip_ = 0;  // bytes of an ignored frame still to discard
  // The receive limit, when one applies: every frame after the handshake takes its length.
  std::optional<limits::ReceiveBucket> receive_bucket_;
  limits::ReceiveRate receive_rate_;
  bool receive_rate_overridden_ = false;

  // Output.
  std::vector<std::uint8_t> control_;
  std::optional<protocol::PingData> pending_pong_;
  SendQueue disco_queue_;
  SendQueue other_queue_;
  // From depart() until the last move settles; null otherwise, so that a session that does not
  // move (nearly all, nearly always) pays a pointer for it, not a vector.
  // Its marker is on its way while this exists (from arrive() on; nothing is queued on a session
  // between depart() and arrive()).
  struct MoveHold {
    Worker* from = nullptr;  // the worker it left
    std::vector<PacketRef> held;
    // When it last arrived: a lost marker must not hold the packets for ever (on_tick).
    std::chrono::steady_clock::time_point arrived_at{};
  };
  static constexpr std::chrono::seconds kMoveSettlesWithin{1};
  std::unique_ptr<MoveHold> move_hold_;
  bool serve_disco_first_ = false;
  // Sources this client received packets from: it hears PeerGone when they leave (protocol §4.5).
  std::unordered_set<protocol::NodePublic> peers_heard_from_;

  // PeerGone(NotHere) limiter: 1 token per second, burst 3.
  double not_here_tokens_ = 3;
  std::chrono::steady_clock::time_point not_here_refill_;

  std::chrono::steady_clock::time_point created_;
  std::chrono::steady_clock::time_point leave_started_;
  std::chrono::steady_clock::time_point established_at_;
  std::chrono::steady_clock::time_point next_keepalive_;
  std::chrono::system_clock::time_point connected_wall_;
  std::atomic<std::int64_t> last_activity_ns_{0};
  std::uint64_t packets_in_ = 0, bytes_in_ = 0, packets_out_ = 0, bytes_out_ = 0;
  std::array<std::uint64_t, kDropReasonCount> drops_by_reason_{};
};

}  // namespace derp::server
