// The drain state machine (architecture doc, "Control plane"): serving → draining → drained, and
// undrain back to serving. Draining refuses new DERP connections and reports not-serving (through
// the hooks), tells every client Restarting with a jittered reconnect time, then closes clients in
// batches until none remain or the deadline passes. Mesh peers are closed last, so packets for
// clients that are migrating to a sibling still have a route until the end.
//
// The controller never touches a session from its own thread: each step posts one task per worker
// that notifies, closes and counts that worker's sessions on the worker's thread.
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

namespace derp::server {

class Server;

enum class DrainState { kServing, kDraining, kDrained };
std::string_view to_string(DrainState s);

struct DrainOptions {
  std::chrono::milliseconds deadline{std::chrono::minutes(5)};  // everyone is closed by then
  std::size_t batch_size = 0;  // 0: spread the clients evenly over the deadline
  std::chrono::milliseconds interval{1000};
  bool send_restarting = true;
  bool stop_stun = false;
  std::chrono::milliseconds reconnect_jitter{5000};  // Restarting.reconnect_in ∈ [0, this]
  std::chrono::milliseconds try_for{10000};          // Restarting.try_for
};

struct DrainProgress {
  DrainState state = DrainState::kServing;
  std::chrono::system_clock::time_point since;     // when `state` began
  std::chrono::system_clock::time_point deadline;  // draining and drained only
  std::size_t remaining = 0;                       // open connections, mesh peers included
  std::size_t remaining_mesh = 0;                  // mesh peers among them
  std::size_t closed = 0;                          // connections this drain closed
  bool stun_stopped = false;
  bool deadline_passed = false;
  std::string describe() const;  // "draining: closed 40, 10 remaining (2 mesh peers)"
};

// How the drain reaches the parts of the node it does not own. Each may be empty.
struct DrainHooks {
  std::function<void(bool refuse)> refuse_new_connections;  // HTTP fronts and health status
  std::function<void(bool enabled)> stun_replies;
  std::function<void(DrainState)> state_changed;  // e.g. for the mesh's own links
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
  // Back to serving: accept connections, answer STUN, healthy. False when already serving.
  bool undrain();
  DrainProgress progress() const;

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
  std::uint64_t steps_ = 0;
  bool deadline_passed_ = false;
  bool stun_stopped_ = false;

  std::mutex listeners_mu_;
  std::map<std::uint64_t, Listener> listeners_;
  std::uint64_t next_listener_ = 1;
};

}  // namespace derp::server
