#include "relay/server/drain_controller.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cmath>
#include <functional>
#include <optional>
#include <vector>

#include "relay/server/client_session.h"
#include "relay/server/server.h"
#include "relay/server/worker.h"

namespace derp::server {
namespace {

enum class Act {
  kNothing,   // count only
  kClients,   // `quota` clients leave
  kMeshToo,   // the clients left: mesh peers leave too
  kEveryone,  // deadline: everyone leaves, and whoever is still leaving is closed
};

struct StepOrder {
  std::uint64_t id = 0;  // acknowledged in done_order once run
  std::uint64_t generation = 0;
  Act act = Act::kNothing;
  std::size_t quota = 0;
  std::optional<protocol::RestartingFrame> hint;
};

constexpr std::string_view kLeaveReason = "node draining";

}  // namespace

struct DrainController::Shared {
  // Written by a worker after each step, read by the controller.
  struct PerWorker {
    std::atomic<std::size_t> open_clients{0};
    std::atomic<std::size_t> open_mesh{0};
    std::atomic<bool> reported{false};
    std::atomic<std::uint64_t> done_order{0};
  };
  std::vector<std::unique_ptr<PerWorker>> workers;
  std::atomic<std::uint64_t> generation{0};
  std::atomic<std::size_t> closed{0};
};

namespace {

// Runs on worker `w`'s thread.
void run_step(DrainController::Shared& shared, Worker& w, const StepOrder& order) {
  auto& mine = *shared.workers[w.index()];
  mine.done_order.store(order.id);
  if (shared.generation.load() != order.generation) return;  // undrained since
  std::vector<std::uint64_t> clients, mesh, leaving;
  std::vector<std::pair<std::int64_t, std::uint64_t>> by_activity;  // (last activity, id)
  w.for_each_session([&](const ClientSession& s) {
    if (s.closing()) return;
    if (s.leaving()) {
      leaving.push_back(s.conn_id());
    } else if (s.can_mesh()) {
      mesh.push_back(s.conn_id());
    } else {
      by_activity.emplace_back(s.last_activity_ns(), s.conn_id());
    }
  });
  // The busiest clients leave first. While a client moves, packets its peers send it are lost;
  // an idle one loses nothing. Going first, the busy ones meet siblings that have not yet taken
  // the rest of the herd, so they are away for the shortest time.
  if (order.act == Act::kClients && order.quota < by_activity.size()) {
    const auto cut = by_activity.begin() + static_cast<std::ptrdiff_t>(order.quota);
    std::nth_element(by_activity.begin(), cut, by_activity.end(), std::greater<>());
  }
  clients.reserve(by_activity.size());
  for (const auto& [activity, id] : by_activity) clients.push_back(id);
  // Looked up by id when used rather than kept as pointers: cheap, and safe should making one
  // session leave ever end another one synchronously.
  auto leave = [&](std::vector<std::uint64_t>& ids, std::size_t n) {
    n = std::min(n, ids.size());
    for (std::size_t i = 0; i < n; ++i) {
      if (ClientSession* s = w.find_session(ids[i])) {
        s->leave(kLeaveReason, s->can_mesh() ? std::nullopt : order.hint);
        shared.closed.fetch_add(1);
      }
    }
    ids.erase(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n));
  };
  switch (order.act) {
    case Act::kNothing:
      break;
    case Act::kClients:
      leave(clients, order.quota);
      break;
    case Act::kMeshToo:
      leave(clients, clients.size());
      leave(mesh, mesh.size());
      break;
    case Act::kEveryone: {
      // Whoever is still here goes now. Mesh peers go in the same step only when no client is
      // left to move; otherwise in the next one (≤ 100 ms later), still after the clients.
      const bool clients_here = !clients.empty() || !leaving.empty();
      for (auto id : leaving) {
        if (ClientSession* s = w.find_session(id)) s->close("node drained: deadline passed");
      }
      leave(clients, clients.size());
      if (!clients_here) leave(mesh, mesh.size());
      break;
    }
  }
  mine.open_clients.store(clients.size());
  mine.open_mesh.store(mesh.size());
  mine.reported.store(true);
}

}  // namespace

std::size_t drain_batch_size(const DrainOptions& o, std::size_t open, std::size_t steps_left) {
  std::size_t batch = o.batch_size;
  if (batch == 0) {
    if (o.clients_per_second <= 0) return open;
    const double per_interval =
        o.clients_per_second * static_cast<double>(o.interval.count()) / 1000.0;
    batch = static_cast<std::size_t>(std::max(1.0, std::ceil(per_interval)));
  }
  steps_left = std::max<std::size_t>(steps_left, 1);
  return std::max(batch, (open + steps_left - 1) / steps_left);
}

std::string_view to_string(DrainState s) {
  switch (s) {
    case DrainState::kServing:
      return "serving";
    case DrainState::kDraining:
      return "draining";
    case DrainState::kDrained:
      return "drained";
  }
  return "unknown";
}

std::string DrainProgress::describe() const {
  std::string out(to_string(state));
  if (state == DrainState::kServing) return out;
  out += ": closed " + std::to_string(closed) + ", " + std::to_string(remaining) + " remaining";
  if (remaining_mesh > 0) out += " (" + std::to_string(remaining_mesh) + " mesh peers)";
  if (deadline_passed) out += ", deadline passed";
  return out;
}

DrainController::DrainController(Server& server, boost::asio::any_io_executor executor,
                                 DrainHooks hooks)
    : server_(server),
      hooks_(std::move(hooks)),
      timer_(executor),
      shared_(std::make_shared<Shared>()),
      since_(std::chrono::system_clock::now()) {
  for (std::size_t i = 0; i < server_.worker_count(); ++i) {
    shared_->workers.push_back(std::make_unique<Shared::PerWorker>());
  }
  posted_order_.assign(server_.worker_count(), 0);
}

DrainController::~DrainController() {
  std::lock_guard lock(mu_);
  shared_->generation.fetch_add(1);
  timer_.cancel();
}

bool DrainController::drain(const DrainOptions& options) {
  DrainProgress p;
  {
    std::lock_guard lock(mu_);
    if (state_ != DrainState::kServing) return false;
    options_ = options;
    if (options_.interval.count() <= 0) options_.interval = std::chrono::milliseconds(100);
    if (options_.deadline.count() <= 0) options_.deadline = std::chrono::minutes(5);
    state_ = DrainState::kDraining;
    since_ = std::chrono::system_clock::now();
    deadline_ = since_ + options_.deadline;
    steady_deadline_ = std::chrono::steady_clock::now() + options_.deadline;
    deadline_passed_ = false;
    shared_->closed.store(0);
    for (auto& w : shared_->workers) {
      w->reported.store(false);
      w->open_clients.store(0);
      w->open_mesh.store(0);
    }
    // Refused at TCP before anyone is asked to leave: a client that redials must not land here.
    if (hooks_.accept_connections) hooks_.accept_connections(false);
    accepting_ = false;
    stun_stopped_ = options_.stop_stun && hooks_.stun_replies;
    if (stun_stopped_) hooks_.stun_replies(false);
    if (hooks_.state_changed) hooks_.state_changed(state_);
    // The first step runs on the executor at once, like every later one.
    timer_.expires_after(std::chrono::milliseconds(0));
    timer_.async_wait([this, gen = shared_->generation.load()](boost::system::error_code ec) {
      if (!ec && shared_->generation.load() == gen) step();
    });
    p = progress_locked();
  }
  publish(p);
  return true;
}

DrainController::UndrainResult DrainController::undrain() {
  DrainProgress p;
  UndrainResult result;
  {
    std::lock_guard lock(mu_);
    if (state_ == DrainState::kServing) return result;
    if (exiting_) {
      result.error = "derpd is shutting down (SIGTERM): it will not serve again";
      return result;
    }
    if (!accepting_ && hooks_.accept_connections) {
      result.error = hooks_.accept_connections(true);
      if (!result.error.empty()) return result;
    }
    accepting_ = true;
    result.changed = true;
    shared_->generation.fetch_add(1);
    timer_.cancel();
    state_ = DrainState::kServing;
    since_ = std::chrono::system_clock::now();
    if (stun_stopped_ && hooks_.stun_replies) hooks_.stun_replies(true);
    stun_stopped_ = false;
    if (hooks_.state_changed) hooks_.state_changed(state_);
    p = progress_locked();
  }
  publish(p);
  return result;
}

void DrainController::set_exiting() {
  std::lock_guard lock(mu_);
  exiting_ = true;
}

DrainProgress DrainController::progress() const {
  std::lock_guard lock(mu_);
  return progress_locked();
}

DrainProgress DrainController::progress_locked() const {
  DrainProgress p;
  p.state = state_;
  p.since = since_;
  for (std::size_t i = 0; i < server_.worker_count(); ++i) {
    p.remaining += server_.worker(i).session_count();
  }
  if (state_ == DrainState::kServing) return p;
  p.deadline = deadline_;
  p.closed = shared_->closed.load();
  for (std::size_t i = 0; i < server_.worker_count(); ++i) {
    p.remaining_mesh += shared_->workers[i]->open_mesh.load();
  }
  p.remaining_mesh = std::min(p.remaining_mesh, p.remaining);
  p.stun_stopped = stun_stopped_;
  p.deadline_passed = deadline_passed_;
  return p;
}

void DrainController::step() {
  DrainProgress p;
  {
    std::lock_guard lock(mu_);
    if (state_ != DrainState::kDraining) return;
    const auto now = std::chrono::steady_clock::now();
    const std::size_t workers = server_.worker_count();
    // A client moving between workers is in neither's table for a moment (worker_packing.h):
    // it is counted in transit, and a move that began or ended while the counts were read (it
    // may have slipped between two workers' counts) makes this step count one more.
    const std::uint64_t moves_before = server_.transit_events();
    std::size_t remaining = server_.sessions_in_transit(), open_clients = 0, open_mesh = 0;
    bool all_reported = true;
    std::vector<std::size_t> weight(workers);
    for (std::size_t i = 0; i < workers; ++i) {
      const std::size_t sessions = server_.worker(i).session_count();
      remaining += sessions;
      auto& w = *shared_->workers[i];
      all_reported = all_reported && w.reported.load();
      weight[i] = w.reported.load() ? w.open_clients.load() : sessions;
      open_clients += weight[i];
      open_mesh += w.open_mesh.load();
    }
    if (server_.transit_events() != moves_before) ++remaining;
    if (remaining == 0) {
      state_ = DrainState::kDrained;
      since_ = std::chrono::system_clock::now();
      if (hooks_.state_changed) hooks_.state_changed(state_);
      p = progress_locked();
    } else {
      StepOrder order;
      order.generation = shared_->generation.load();
      if (options_.send_restarting) {
        // Come back at once (to whichever node accepts), keep trying for try_for.
        order.hint =
            protocol::RestartingFrame{0, static_cast<std::uint32_t>(options_.try_for.count())};
      }
      std::vector<std::size_t> quota(workers, 0);
      if (now >= steady_deadline_) {
        deadline_passed_ = true;
        order.act = Act::kEveryone;
      } else if (open_clients > 0) {
        // Until every worker reported, the weights are whole session counts (mesh peers
        // included): a first batch may be a little small, never wrong.
        order.act = Act::kClients;
        // The last clients must have time to close their side, and the mesh peers one step,
        // before the deadline.
        const auto left = steady_deadline_ - now - ClientSession::kLeaveLinger;
        const auto steps_left =
            left.count() > 0 ? static_cast<std::size_t>(left / options_.interval) : 0;
        std::size_t batch =
            drain_batch_size(options_, open_clients, steps_left > 1 ? steps_left - 1 : 1);
        batch = std::min(batch, open_clients);
        std::size_t given = 0;
        for (std::size_t i = 0; i < workers; ++i) {
          quota[i] = batch * weight[i] / open_clients;
          given += quota[i];
        }
        for (std::size_t i = 0; given < batch && i < workers; ++i) {
          std::size_t extra = std::min(batch - given, weight[i] - quota[i]);
          quota[i] += extra;
          given += extra;
        }
      } else if (all_reported && remaining <= open_mesh) {
        // Every live session is a mesh peer (the count of sessions is live, so a client that
        // closed a moment ago no longer counts): the siblings' links may go too.
        order.act = Act::kMeshToo;
      } else {
        order.act = Act::kNothing;  // wait for leaving clients to close their side
      }
      for (std::size_t i = 0; i < workers; ++i) {
        // A worker still busy with its previous order gets none this time (its share waits).
        if (shared_->workers[i]->done_order.load() != posted_order_[i]) continue;
        StepOrder mine = order;
        mine.quota = quota[i];
        mine.id = posted_order_[i] = ++next_order_;
        Worker& w = server_.worker(i);
        server_.post(static_cast<std::uint32_t>(i),
                     RunOnWorker{[shared = shared_, &w, mine] { run_step(*shared, w, mine); }});
      }
      arm_timer();
      p = progress_locked();
    }
  }
  publish(p);
}

void DrainController::arm_timer() {
  auto now = std::chrono::steady_clock::now();
  auto next = now + options_.interval;
  if (deadline_passed_) {
    next = now +
           std::min<std::chrono::milliseconds>(options_.interval, std::chrono::milliseconds(100));
  } else if (next > steady_deadline_) {
    next = steady_deadline_;
  }
  timer_.expires_at(next);
  timer_.async_wait([this, gen = shared_->generation.load()](boost::system::error_code ec) {
    if (!ec && shared_->generation.load() == gen) step();
  });
}

std::uint64_t DrainController::subscribe(Listener listener) {
  std::lock_guard lock(listeners_mu_);
  auto id = next_listener_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void DrainController::unsubscribe(std::uint64_t id) {
  std::lock_guard lock(listeners_mu_);
  listeners_.erase(id);
}

void DrainController::publish(const DrainProgress& p) {
  std::lock_guard lock(listeners_mu_);
  for (auto& [id, l] : listeners_) l(p);
}

}  // namespace derp::server
