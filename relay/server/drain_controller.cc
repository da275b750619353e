#include "relay/server/drain_controller.h"

#include <sodium.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <unordered_map>
#include <vector>

#include "relay/server/client_session.h"
#include "relay/server/server.h"
#include "relay/server/worker.h"

namespace derp::server {
namespace {

enum class CloseWhat { kNothing, kClients, kMeshToo, kEveryone };

struct StepOrder {
  std::uint64_t generation = 0;
  std::uint64_t step = 0;
  CloseWhat what = CloseWhat::kNothing;
  std::size_t quota = 0;  // kClients: how many this worker closes
  bool send_restarting = true;
  std::chrono::milliseconds jitter{0};
  std::chrono::milliseconds try_for{0};
  // Beyond a client's reconnect hint before a batch may close it: its own timer started when the
  // frame arrived, a little after ours.
  std::chrono::milliseconds grace{0};
};

constexpr std::string_view kCloseReason = "node draining";

}  // namespace

struct DrainController::Shared {
  struct PerWorker {
    // Touched only on the worker's own thread: conn_id → when it was sent Restarting and the
    // earliest time it may be closed: its own reconnect hint, plus one interval of grace. A
    // client that follows the hint leaves by itself, without a gap; batches close the rest.
    struct Notice {
      std::uint64_t step;
      std::chrono::steady_clock::time_point close_after;
    };
    std::unordered_map<std::uint64_t, Notice> notified;
    // Written by the worker after each step, read by the controller.
    std::atomic<std::size_t> open_clients{0};
    std::atomic<std::size_t> open_mesh{0};
    std::atomic<bool> reported{false};
  };
  std::vector<std::unique_ptr<PerWorker>> workers;
  std::atomic<std::uint64_t> generation{0};
  std::atomic<std::size_t> closed{0};
};

namespace {

// Runs on worker `w`'s thread.
void run_step(DrainController::Shared& shared, Worker& w, const StepOrder& order) {
  if (shared.generation.load() != order.generation) return;  // undrained since
  auto& mine = *shared.workers[w.index()];
  std::vector<std::uint64_t> ids;
  ids.reserve(w.session_count());
  w.for_each_session([&](const ClientSession& s) {
    if (!s.closing()) ids.push_back(s.conn_id());
  });

  const auto now = std::chrono::steady_clock::now();
  std::unordered_map<std::uint64_t, DrainController::Shared::PerWorker::Notice> still_notified;
  std::vector<ClientSession*> told, fresh, mesh;
  for (auto id : ids) {
    ClientSession* s = w.find_session(id);
    if (!s) continue;
    bool was_told = false;
    if (auto it = mine.notified.find(id); it != mine.notified.end()) {
      still_notified.emplace(id, it->second);
      was_told = it->second.step < order.step && now >= it->second.close_after;
    } else if (order.send_restarting && s->established() && !s->can_mesh()) {
      // Mesh peers are not told: they stay until the end, and a sibling that redialled early
      // would only be refused.
      auto reconnect =
          order.jitter.count() > 0
              ? randombytes_uniform(static_cast<std::uint32_t>(order.jitter.count()) + 1)
              : 0;
      s->queue_restarting({static_cast<std::uint32_t>(reconnect),
                           static_cast<std::uint32_t>(order.try_for.count())});
      still_notified.emplace(
          id, DrainController::Shared::PerWorker::Notice{
                  order.step, now + std::chrono::milliseconds(reconnect) +
                                  (reconnect > 0 ? order.grace : std::chrono::milliseconds(0))});
    } else {
      was_told = true;  // nothing to tell (no Restarting wanted, or still in the handshake)
    }
    if (s->can_mesh()) {
      mesh.push_back(s);
    } else if (was_told) {
      told.push_back(s);
    } else {
      fresh.push_back(s);
    }
  }
  mine.notified = std::move(still_notified);

  auto close_all = [&](std::vector<ClientSession*>& v, std::size_t limit) {
    std::size_t n = std::min(limit, v.size());
    for (std::size_t i = 0; i < n; ++i) v[i]->close(kCloseReason);
    v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n));
    shared.closed.fetch_add(n);
  };
  switch (order.what) {
    case CloseWhat::kNothing:
      break;
    case CloseWhat::kClients:
      close_all(told, order.quota);
      break;
    case CloseWhat::kMeshToo:
      close_all(told, told.size());
      close_all(mesh, mesh.size());
      break;
    case CloseWhat::kEveryone:
      close_all(told, told.size());
      close_all(fresh, fresh.size());
      close_all(mesh, mesh.size());
      break;
  }
  mine.open_clients.store(told.size() + fresh.size());
  mine.open_mesh.store(mesh.size());
  mine.reported.store(true);
}

}  // namespace

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
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  for (std::size_t i = 0; i < server_.worker_count(); ++i) {
    shared_->workers.push_back(std::make_unique<Shared::PerWorker>());
  }
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
    if (options_.interval.count() <= 0) options_.interval = std::chrono::seconds(1);
    if (options_.deadline.count() <= 0) options_.deadline = std::chrono::minutes(5);
    state_ = DrainState::kDraining;
    since_ = std::chrono::system_clock::now();
    deadline_ = since_ + options_.deadline;
    steady_deadline_ = std::chrono::steady_clock::now() + options_.deadline;
    steps_ = 0;
    deadline_passed_ = false;
    shared_->closed.store(0);
    for (auto& w : shared_->workers) w->reported.store(false);
    if (hooks_.refuse_new_connections) hooks_.refuse_new_connections(true);
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

bool DrainController::undrain() {
  DrainProgress p;
  {
    std::lock_guard lock(mu_);
    if (state_ == DrainState::kServing) return false;
    shared_->generation.fetch_add(1);
    timer_.cancel();
    state_ = DrainState::kServing;
    since_ = std::chrono::system_clock::now();
    if (stun_stopped_ && hooks_.stun_replies) hooks_.stun_replies(true);
    stun_stopped_ = false;
    if (hooks_.refuse_new_connections) hooks_.refuse_new_connections(false);
    if (hooks_.state_changed) hooks_.state_changed(state_);
    p = progress_locked();
  }
  publish(p);
  return true;
}

DrainProgress DrainController::progress() const {
  std::lock_guard lock(mu_);
  return progress_locked();
}

DrainProgress DrainController::progress_locked() const {
  DrainProgress p;
  p.state = state_;
  p.since = since_;
  if (state_ != DrainState::kServing) {
    p.deadline = deadline_;
    p.closed = shared_->closed.load();
  }
  for (std::size_t i = 0; i < server_.worker_count(); ++i) {
    p.remaining += server_.worker(i).session_count();
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
    std::size_t remaining = 0, open_clients = 0;
    bool all_reported = true;
    std::vector<std::size_t> open_per_worker(server_.worker_count());
    for (std::size_t i = 0; i < server_.worker_count(); ++i) {
      remaining += server_.worker(i).session_count();
      auto& w = *shared_->workers[i];
      all_reported = all_reported && w.reported.load();
      open_per_worker[i] = w.open_clients.load();
      open_clients += open_per_worker[i];
    }
    if (remaining == 0) {
      state_ = DrainState::kDrained;
      since_ = std::chrono::system_clock::now();
      if (hooks_.state_changed) hooks_.state_changed(state_);
      p = progress_locked();
    } else {
      StepOrder order;
      order.generation = shared_->generation.load();
      order.step = steps_++;
      order.send_restarting = options_.send_restarting;
      order.jitter = options_.reconnect_jitter;
      order.try_for = options_.try_for;
      order.grace = options_.interval;
      std::size_t batch = 0;
      if (now >= steady_deadline_) {
        deadline_passed_ = true;
        order.what = CloseWhat::kEveryone;
      } else if (order.step == 0 || !all_reported) {
        order.what = CloseWhat::kNothing;  // tell everyone first, close from the next step
      } else if (open_clients > 0) {
        order.what = CloseWhat::kClients;
        batch = options_.batch_size;
        if (batch == 0) {
          // Spread evenly over the steps left, keeping the last one for the mesh peers.
          auto steps_left = static_cast<std::size_t>((steady_deadline_ - now) / options_.interval);
          steps_left = steps_left > 1 ? steps_left - 1 : 1;
          batch = (open_clients + steps_left - 1) / steps_left;
        }
      } else {
        order.what = CloseWhat::kMeshToo;
      }
      // Each worker closes its share of the batch, in proportion to its open clients.
      std::vector<std::size_t> quota(server_.worker_count(), 0);
      if (order.what == CloseWhat::kClients) {
        std::size_t given = 0;
        for (std::size_t i = 0; i < quota.size(); ++i) {
          quota[i] = batch * open_per_worker[i] / open_clients;
          given += quota[i];
        }
        for (std::size_t i = 0; given < batch && i < quota.size(); ++i) {
          std::size_t extra = std::min(batch - given, open_per_worker[i] - quota[i]);
          quota[i] += extra;
          given += extra;
        }
      }
      for (std::size_t i = 0; i < server_.worker_count(); ++i) {
        StepOrder mine = order;
        mine.quota = quota[i];
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
