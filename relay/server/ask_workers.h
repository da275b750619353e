// The one way to ask every worker something: `task` runs on each worker's own thread (the only
// place its sessions may be read), and the answers come back together. Callers wait with
// wait_at_most(), never without a limit: a wedged worker must not wedge the admin API, a drain or
// the signal handler. Call from threads that are not workers' (a worker waiting for itself would
// never wake).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <vector>

#include "relay/server/server.h"
#include "relay/server/thread_check.h"
#include "relay/server/worker.h"

namespace derp::server {

// Answers in worker order. A task that runs after the caller stopped waiting still runs to the
// end and its answer is dropped; it must own (or share) whatever it touches.
template <class T>
std::future<std::vector<T>> ask_every_worker(Server& server, std::function<T(Worker&)> task) {
  struct Gather {
    explicit Gather(std::size_t n) : answers(n), pending(n) {}
    std::vector<T> answers;
    std::atomic<std::size_t> pending;
    std::promise<std::vector<T>> done;
  };
  const std::size_t n = server.worker_count();
  auto g = std::make_shared<Gather>(n);
  auto result = g->done.get_future();
  if (n == 0) g->done.set_value({});
  auto shared_task = std::make_shared<std::function<T(Worker&)>>(std::move(task));
  for (std::size_t i = 0; i < n; ++i) {
    Worker& w = server.worker(i);
    w.post(RunOnWorker{[g, shared_task, &w, i] {
      g->answers[i] = (*shared_task)(w);
      if (--g->pending == 0) g->done.set_value(std::move(g->answers));
    }});
  }
  return result;
}

template <class T>
std::optional<T> wait_at_most(std::future<T>& f, std::chrono::milliseconds limit) {
  DERP_ASSERT(Worker::current() == nullptr);
  if (f.wait_for(limit) != std::future_status::ready) return std::nullopt;
  return f.get();
}

}  // namespace derp::server
