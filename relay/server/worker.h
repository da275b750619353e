// One shard of the relay: a thread with its own io_context. A connection lives on one worker at
// a time, so its state needs no locks: on the one that accepted it, until the node packs its
// clients onto fewer workers or spreads them over more (relay/server/worker_packing.h) and it
// moves there whole. Other workers reach it only through the inbox, which wakes this worker once
// per batch rather than once per message.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "relay/protocol/key.h"
#include "relay/server/counters.h"
#include "relay/server/thread_check.h"
#include "relay/server/worker_message.h"

namespace derp::server {

class ClientSession;

class Worker {
 public:
  explicit Worker(std::uint32_t index,
                  std::chrono::milliseconds tick_interval = std::chrono::seconds(1));
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  std::uint32_t index() const { return index_; }
  boost::asio::io_context& io() { return io_; }
  WorkerCounters& counters() { return counters_; }
  const WorkerCounters& counters() const { return counters_; }

  void start();  // runs the io_context on a new thread
  // When this worker's loop last ran its tick. A loop that stops turning (a handler stuck in a
  // system call or a lock) stops ticking: this is what the systemd watchdog watches.
  std::chrono::steady_clock::time_point last_tick() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_tick_.load(std::memory_order_relaxed)));
  }
  std::chrono::milliseconds tick_interval() const { return tick_interval_; }
  // Asks the thread to close everything and return once the cancelled operations complete;
  // does not wait. Safe from any thread, more than once.
  void request_stop();
  void stop();  // request_stop(), then joins
  // From any thread: stop was asked for (nothing should move here any more).
  bool stop_requested() const { return stop_requested_.load(std::memory_order_relaxed); }
  // After the thread has been joined: drops every queued message (a connection that was moving
  // here ends as it is destroyed). True if there was any. Server::stop repeats this on every
  // worker until all are empty, while the tables those connections' ends edit still exist.
  bool discard_inbox();
  // True on this worker's thread, and on any thread while the worker's thread is not running
  // (before start, after stop, and in tests that drive a worker by hand): who may touch its
  // sessions. DERP_ASSERT checks it at every session and worker entry point.
  bool owns_current_thread() const {
    return current() == this || !running_.load(std::memory_order_relaxed);
  }
  static Worker* current();
  // On this worker's thread: it has begun closing everything (request_stop).
  bool stopping() const { return stopping_; }
  // CPU time the worker's thread has used so far (0 before start): its busy share, for the
  // packing. From any thread.
  std::int64_t cpu_time_ns() const;

  // Thread-safe: queues a message for this worker's thread.
  void post(WorkerMessage m);

  // The rest runs on this worker's thread only.
  void add_session(std::uint64_t conn_id, ClientSession* s);
  void remove_session(std::uint64_t conn_id);
  ClientSession* find_session(std::uint64_t conn_id) const;
  std::size_t session_count() const { return session_count_.load(std::memory_order_relaxed); }
  template <class Fn>
  void for_each_session(Fn&& fn) const {
    DERP_ASSERT(owns_current_thread());
    for (const auto& [id, s] : sessions_) fn(*s);
  }

  // Whether `session` (which the registry says lives here) is in this worker's table. Only a
  // session that recently left may not be, so the table is searched only then.
  bool holds(std::uint64_t conn_id, const ClientSession* session) const {
    DERP_ASSERT(owns_current_thread());
    return departed_.empty() || find_session(conn_id) == session;
  }
  // A session left this worker for `to` (relay/server/worker_packing.h): messages still
  // addressed to it here (sent before the registry named its new worker, which happens when it
  // arrives there) follow it for a while.
  void forward_messages_of(std::uint64_t conn_id, Worker& to);

  // PeerGone bookkeeping (protocol §4.5): which local connections received packets from `src`.
  void subscribe_peer_gone(const protocol::NodePublic& src, std::uint64_t conn_id);
  void unsubscribe_peer_gone(const protocol::NodePublic& src, std::uint64_t conn_id);

  void handle(WorkerMessage& m);
  // Handles every queued message on the calling thread (the worker's own, or a test's when the
  // worker was never started).
  void run_pending();

  // Things that keep the io_context busy besides sessions (acceptors, connections still in HTTP)
  // register how to close them, so stop() can end the thread cleanly.
  std::uint64_t add_closer(std::function<void()> close);
  void remove_closer(std::uint64_t id);

  // I/O scratch shared by this worker's connections: reads land in read_scratch() and write
  // batches are assembled in write_scratch(), so a connection owns no buffer between events.
  std::span<std::uint8_t> read_scratch();
  std::vector<std::uint8_t>& write_scratch() { return write_scratch_; }

  // The steady clock in nanoseconds as of the read being processed now: one clock read per batch
  // of received bytes instead of one per packet.
  std::int64_t batch_now_ns() const { return batch_now_ns_; }
  void set_batch_now_ns(std::int64_t ns) { batch_now_ns_ = ns; }

 private:
  void arm_tick();
  // The worker a departed connection's messages follow, if it left recently.
  Worker* forwarded_to(std::uint64_t conn_id);

  std::uint32_t index_;
  const std::chrono::milliseconds tick_interval_;
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::optional<clockid_t> cpu_clock_;  // of thread_, taken while it surely runs
  WorkerCounters counters_;

  std::mutex inbox_mu_;
  std::vector<WorkerMessage> inbox_;
  std::vector<WorkerMessage> draining_;
  bool wake_pending_ = false;

  std::unordered_map<std::uint64_t, ClientSession*> sessions_;
  struct Departed {
    Worker* to;
    std::chrono::steady_clock::time_point since;
  };
  std::unordered_map<std::uint64_t, Departed> departed_;
  std::atomic<std::size_t> session_count_{0};
  std::atomic<bool> running_{false};  // the thread is inside io_.run()
  std::unordered_map<protocol::NodePublic, std::unordered_set<std::uint64_t>>
      peer_gone_subscribers_;
  std::unordered_map<std::uint64_t, std::function<void()>> closers_;
  std::uint64_t next_closer_id_ = 1;
  std::atomic<bool> stop_requested_{false};
  bool stopping_ = false;  // the worker's thread has begun closing everything
  boost::asio::steady_timer tick_{io_};
  std::atomic<std::chrono::steady_clock::rep> last_tick_{0};
  std::unique_ptr<std::uint8_t[]> read_scratch_;
  std::vector<std::uint8_t> write_scratch_;
  std::int64_t batch_now_ns_ = 0;
};

}  // namespace derp::server
