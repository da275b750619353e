// A worker's thread ends when asked, whatever it was doing at that moment: a shutdown that hangs
// is a node that systemd or Kubernetes has to kill.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <optional>
#include <thread>

#include "relay/server/server.h"
#include "relay/server/worker.h"
#include "relay/server/worker_liveness.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

using namespace std::chrono_literals;

TEST(Worker, StopsEvenWhenItsTickIsAlreadyDue) {
  // The tick re-arms itself. If it has already expired when the stop request runs, cancel() no
  // longer reaches it and it completes without an error after the request: it must not re-arm.
  server::Worker worker(0, /*tick_interval=*/5ms);
  worker.start();
  std::atomic<bool> stop_requested{false};
  std::promise<void> busy;
  boost::asio::post(worker.io(), [&] {
    busy.set_value();
    // Hold the thread until the stop request is queued and the tick is past due, so the
    // tick's completion lands behind the request.
    const auto tick_past_due = std::chrono::steady_clock::now() + 20ms;
    while (!stop_requested.load() || std::chrono::steady_clock::now() < tick_past_due) {
      std::this_thread::yield();
    }
  });
  busy.get_future().wait();
  worker.request_stop();
  stop_requested = true;

  std::promise<void> joined;
  auto joined_future = joined.get_future();
  std::thread joiner([&] {
    worker.stop();
    joined.set_value();
  });
  if (joined_future.wait_for(10s) != std::future_status::ready) {
    ADD_FAILURE() << "the worker's thread did not end within 10 s of stop()";
    std::fflush(stdout);
    std::abort();  // the thread cannot be joined: nothing else ends this test
  }
  joiner.join();
}

TEST(Worker, StopRequestedTwiceOrBeforeStartIsHarmless) {
  server::Worker never_started(0);
  never_started.request_stop();
  never_started.stop();

  server::Worker worker(1);
  worker.start();
  std::promise<std::uint32_t> ran_on;
  boost::asio::post(worker.io(), [&] { ran_on.set_value(server::Worker::current()->index()); });
  EXPECT_EQ(ran_on.get_future().get(), 1u);
  worker.request_stop();
  worker.request_stop();
  worker.stop();
  worker.stop();
}

// The systemd watchdog keep-alive depends on this: a worker stuck in a handler is found within
// its tick interval plus the slack, and a worker that turns again is not.
TEST(WorkerLiveness, AStuckWorkerIsFoundAndATurningOneIsNot) {
  server::ServerConfig config;
  config.private_key = protocol::NodePrivate::generate();
  config.workers = 2;
  server::Server server(config);
  server.start();
  EXPECT_FALSE(server::find_stalled_worker(server, std::chrono::steady_clock::now(), 500ms));

  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> entered;
  boost::asio::post(server.worker(1).io(), [&entered, released] {
    entered.set_value();
    released.wait();
  });
  entered.get_future().wait();
  std::optional<server::StalledWorker> stalled;
  EXPECT_TRUE(eventually(
      [&] {
        stalled = server::find_stalled_worker(server, std::chrono::steady_clock::now(), 100ms);
        return stalled.has_value();
      },
      10s));
  ASSERT_TRUE(stalled);
  EXPECT_EQ(stalled->index, 1u);
  EXPECT_GT(stalled->since_last_tick, server.worker(1).tick_interval());

  release.set_value();
  EXPECT_TRUE(eventually(
      [&] { return !server::find_stalled_worker(server, std::chrono::steady_clock::now(), 100ms); },
      10s));
  server.stop();
}

}  // namespace
}  // namespace derp::testing
