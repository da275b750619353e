#include "relay/server/worker.h"

#include <pthread.h>
#include <time.h>

#include <boost/asio/post.hpp>

#include "relay/server/client_session.h"

namespace derp::server {
namespace {
thread_local Worker* t_current_worker = nullptr;

// How long messages for a session that moved to another worker are passed on. Those sent before
// the registry named the new worker arrive within microseconds; what comes later holds a stale
// reference (an admin request that looked the session up seconds ago) and meets a closed one.
constexpr std::chrono::seconds kForwardDepartedFor{10};

std::optional<std::uint64_t> addressee(const WorkerMessage& m) {
  return std::visit(
      [](const auto& msg) -> std::optional<std::uint64_t> {
        if constexpr (requires { msg.conn_id; }) {
          return msg.conn_id;
        } else {
          return std::nullopt;
        }
      },
      m);
}
}  // namespace

Worker::Worker(std::uint32_t index, std::chrono::milliseconds tick_interval)
    : index_(index), tick_interval_(tick_interval) {}

Worker::~Worker() {
  stop();
}

Worker* Worker::current() {
  return t_current_worker;
}

void Worker::start() {
  work_.emplace(io_.get_executor());
  last_tick_.store(std::chrono::steady_clock::now().time_since_epoch().count());
  arm_tick();
  // From here on the worker's thread owns its sessions (set before the thread exists, so no
  // other thread can slip in between).
  running_.store(true);
  thread_ = std::thread([this] {
    t_current_worker = this;
    io_.run();
    running_.store(false);
    t_current_worker = nullptr;
  });
  // Taken now: once the thread has been joined its handle may no longer be asked.
  clockid_t clock;
  if (pthread_getcpuclockid(thread_.native_handle(), &clock) == 0) cpu_clock_ = clock;
}

std::int64_t Worker::cpu_time_ns() const {
  timespec ts{};
  if (!cpu_clock_ || clock_gettime(*cpu_clock_, &ts) != 0) return 0;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void Worker::request_stop() {
  if (!thread_.joinable() || stop_requested_.exchange(true)) return;
  // Close everything on the worker's own thread and let run() return once the cancelled
  // operations have completed, so no handler outlives the state it points to.
  boost::asio::post(io_, [this] {
    stopping_ = true;
    tick_.cancel();
    auto closers = std::move(closers_);
    for (auto& [id, close] : closers) close();
    std::vector<ClientSession*> all;
    for (auto& [id, s] : sessions_) all.push_back(s);
    for (auto* s : all) s->close("server shutting down");
    work_.reset();
  });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  request_stop();
  thread_.join();
  while (discard_inbox()) {
  }
}

bool Worker::discard_inbox() {
  std::vector<WorkerMessage> left;
  {
    std::lock_guard lock(inbox_mu_);
    left.swap(inbox_);
  }
  return !left.empty();  // destroyed here, outside the lock: their ends may post more
}

std::uint64_t Worker::add_closer(std::function<void()> close) {
  if (stopping_) {
    close();
    return 0;
  }
  auto id = next_closer_id_++;
  closers_.emplace(id, std::move(close));
  return id;
}

void Worker::remove_closer(std::uint64_t id) {
  closers_.erase(id);
}

void Worker::arm_tick() {
  tick_.expires_after(tick_interval_);
  tick_.async_wait([this](boost::system::error_code ec) {
    // A tick already due when stop's cancel() ran completes without an error: re-arming then
    // would keep the io_context busy for ever and the shutdown would never join this thread.
    if (ec || stopping_) return;
    auto now = std::chrono::steady_clock::now();
    last_tick_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    // Collect first: a tick may close sessions, which edits the map.
    std::vector<ClientSession*> all;
    all.reserve(sessions_.size());
    for (auto& [id, s] : sessions_) all.push_back(s);
    for (auto* s : all) {
      if (sessions_.contains(s->conn_id())) s->on_tick(now);
    }
    std::erase_if(departed_, [now](const auto& entry) {
      return now - entry.second.since > kForwardDepartedFor;
    });
    arm_tick();
  });
}

void Worker::post(WorkerMessage m) {
  bool wake;
  {
    std::lock_guard lock(inbox_mu_);
    inbox_.push_back(std::move(m));
    wake = !wake_pending_;
    wake_pending_ = true;
  }
  if (wake) boost::asio::post(io_, [this] { run_pending(); });
}

void Worker::run_pending() {
  {
    std::lock_guard lock(inbox_mu_);
    draining_.swap(inbox_);
    wake_pending_ = false;
  }
  for (auto& m : draining_) handle(m);
  draining_.clear();
}

void Worker::handle(WorkerMessage& m) {
  DERP_ASSERT(owns_current_thread());
  if (!departed_.empty()) [[unlikely]] {
    if (auto id = addressee(m); id && !sessions_.contains(*id)) {
      if (Worker* to = forwarded_to(*id)) {
        if (auto* packet = std::get_if<DeliverPacket>(&m)) packet->forwarded = true;
        return to->post(std::move(m));
      }
    }
  }
  std::visit(
      [this](auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, DeliverPacket>) {
          if (auto* s = find_session(msg.conn_id)) {
            s->enqueue_packet(std::move(msg.frame), msg.forwarded);
          } else {
            counters_.count_drop(DropReason::kGoneDisconnected, msg.frame->disco,
                                 msg.frame->packet_bytes());
          }
        } else if constexpr (std::is_same_v<T, SendPeerGone>) {
          if (auto* s = find_session(msg.conn_id)) s->queue_peer_gone(msg.key, msg.reason);
        } else if constexpr (std::is_same_v<T, SendPeerPresent>) {
          if (auto* s = find_session(msg.conn_id)) s->queue_peer_present(msg.presence);
        } else if constexpr (std::is_same_v<T, PeerGoneFromRegion>) {
          auto it = peer_gone_subscribers_.find(msg.key);
          if (it == peer_gone_subscribers_.end()) return;
          auto subscribers = std::move(it->second);
          peer_gone_subscribers_.erase(it);
          for (auto id : subscribers) {
            if (auto* s = find_session(id)) s->peer_left_region(msg.key);
          }
        } else if constexpr (std::is_same_v<T, CloseConnection>) {
          if (auto* s = find_session(msg.conn_id)) s->close(msg.reason);
        } else if constexpr (std::is_same_v<T, MoveSettled>) {
          if (auto* s = find_session(msg.conn_id)) s->move_settled();
        } else if constexpr (std::is_same_v<T, RunOnWorker>) {
          msg.fn();
        }
      },
      m);
}

void Worker::add_session(std::uint64_t conn_id, ClientSession* s) {
  DERP_ASSERT(owns_current_thread());
  departed_.erase(conn_id);  // it came back
  sessions_[conn_id] = s;
  session_count_.store(sessions_.size(), std::memory_order_relaxed);
}

void Worker::remove_session(std::uint64_t conn_id) {
  DERP_ASSERT(owns_current_thread());
  sessions_.erase(conn_id);
  session_count_.store(sessions_.size(), std::memory_order_relaxed);
}

ClientSession* Worker::find_session(std::uint64_t conn_id) const {
  DERP_ASSERT(owns_current_thread());
  auto it = sessions_.find(conn_id);
  return it == sessions_.end() ? nullptr : it->second;
}

void Worker::forward_messages_of(std::uint64_t conn_id, Worker& to) {
  DERP_ASSERT(owns_current_thread());
  departed_[conn_id] = Departed{&to, std::chrono::steady_clock::now()};
}

Worker* Worker::forwarded_to(std::uint64_t conn_id) {
  auto it = departed_.find(conn_id);
  return it == departed_.end() ? nullptr : it->second.to;
}

void Worker::subscribe_peer_gone(const protocol::NodePublic& src, std::uint64_t conn_id) {
  peer_gone_subscribers_[src].insert(conn_id);
}

void Worker::unsubscribe_peer_gone(const protocol::NodePublic& src, std::uint64_t conn_id) {
  auto it = peer_gone_subscribers_.find(src);
  if (it == peer_gone_subscribers_.end()) return;
  it->second.erase(conn_id);
  if (it->second.empty()) peer_gone_subscribers_.erase(it);
}

std::span<std::uint8_t> Worker::read_scratch() {
  // Large enough that a busy sender's socket usually drains in one or two reads.
  constexpr std::size_t kReadScratchBytes = 64 * 1024;
  if (!read_scratch_) read_scratch_ = std::make_unique<std::uint8_t[]>(kReadScratchBytes);
  return {read_scratch_.get(), kReadScratchBytes};
}

}  // namespace derp::server
