// The drain state machine: serving → draining → drained, and undrain back to serving.
//
// Tailscale's clients pick the first node of their region whose TCP connect succeeds and ignore
// the Restarting frame, so a draining node first stops accepting at the TCP level (the hooks close
// its DERP listeners: connects are refused and clients move to the next node in milliseconds).
// Then it makes its clients leave in paced batches (ClientSession::leave: out of the registry at
// once, queued packets written, a clean end of stream), optionally with a Restarting frame for
// clients that honour it, but never waiting for it. Mesh peers leave last, so packets for clients
// that are moving to a sibling keep a route until the end.
//
// The controller never touches a session from its own thread: each step posts one task per worker
// that acts on, and counts, that worker's sessions on the worker's thread.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace derp::server {

class Server;

enum class DrainState { kServing, kDraining, kDrained };
std::string_view to_string(DrainState s);

struct DrainOptions {
  std::chrono::milliseconds deadline{std::chrono::minutes(5)};  // everyone is closed by then
  std::chrono::milliseconds interval{100};                      // between batches
  // Clients made to leave per interval; 0: from clients_per_second. Either way batches grow when
  // needed to finish before the deadline.
  std::size_t batch_size = 0;
  // The pace that spares the siblings a thundering herd: each moving client costs a sibling one
  // TLS handshake (~0.5 ms of CPU). 0: no pacing, everyone in the first batch.
  double clients_per_second = 500;
  bool send_restarting = true;  // for clients that honour it; the close does not wait for it
  bool stop_stun = false;
  std::chrono::milliseconds try_for{10000};  // Restarting.try_for
};

// The batch for one step: `open` clients still to move, `steps_left` intervals before the
// deadline (the last one is kept for mesh peers).
std::size_t drain_batch_size(const DrainOptions& o, std::size_t open, std::size_t steps_left);

struct DrainProgress {
  DrainState state = DrainState::kServing;
  std::chrono::system_clock::time_point since;     // when `state` began
  std::chrono::system_clock::time_point deadline;  // draining and drained only
  std::size_t remaining = 0;                       // open connections, mesh peers included
  std::size_t remaining_mesh = 0;                  // mesh peers among them
  std::size_t closed = 0;                          // connections this drain made leave
  bool stun_stopped = false;
  bool deadline_passed = false;
  std::string describe() const;  // "draining: closed 40, 10 remaining (2 mesh peers)"
};

// How the drain reaches the parts of the node it does not own. Each may be empty.
struct DrainHooks {
  // false: stop accepting DERP connections (listeners closed, upgrades refused); true: accept
  // again. Returns "" or, when accepting cannot resume (the port was taken meanwhile), why.
  std::function<std::string(bool accept)> accept_connections;
  std::function<void(bool enabled)> stun_replies;
  std::function<void(DrainState)> state_changed;  // health status, readiness, logs
};

class DrainController {
 public:
  // Timers run on `executor`. Destroy the controller only once that executor no longer runs
  // (the owner stops its thread first).
  DrainController(Server& server, boost::asio::any_io_executor executor, DrainHooks hooks);
  ~DrainController();
  DrainController(const DrainController&) = delete;
  DrainController& operator=(const DrainController&) = delete;

  // Starts draining. False (nothing changes) when the node is not serving.
  bool drain(const DrainOptions& options);
  struct UndrainResult {
    bool changed = false;  // false: the node was serving already
    std::string error;     // accepting could not resume; the node stays drained
  };
  // Back to serving: accept connections, answer STUN, healthy.
  UndrainResult undrain();
  DrainProgress progress() const;
  // The node is exiting (SIGTERM): from now on undrain() refuses, so an operator's undrain cannot
  // let clients in that the exit would then cut off.
  void set_exiting();

  using Listener = std::function<void(const DrainProgress&)>;
  // Listeners run on the executor's thread (or the caller's, for drain/undrain) and must not
  // block.
  std::uint64_t subscribe(Listener listener);
  void unsubscribe(std::uint64_t id);

  // One step of a drain; the timer calls it every interval. Public for tests that drive time
  // themselves (then the workers' queued tasks run on the test's thread with run_pending()).
  void step();

  struct Shared;  // state that worker tasks share; defined in the .cc

 private:
  void arm_timer();
  void publish(const DrainProgress& p);
  DrainProgress progress_locked() const;

  Server& server_;
  DrainHooks hooks_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<Shared> shared_;

  mutable std::mutex mu_;
  DrainState state_ = DrainState::kServing;
  DrainOptions options_;
  std::chrono::system_clock::time_point since_;
  std::chrono::system_clock::time_point deadline_;
  std::chrono::steady_clock::time_point steady_deadline_;
  bool deadline_passed_ = false;
  bool accepting_ = true;  // what the last accept_connections hook call achieved
  bool exiting_ = false;
  // Per worker: the last order posted to it. A worker gets a new order only once it has run the
  // previous one, so a slow worker's batches never pile up into a herd.
  std::vector<std::uint64_t> posted_order_;
  std::uint64_t next_order_ = 0;
  bool stun_stopped_ = false;

  std::mutex listeners_mu_;
  std::map<std::uint64_t, Listener> listeners_;
  std::uint64_t next_listener_ = 1;
};

}  // namespace derp::server
