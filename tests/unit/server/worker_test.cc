// A worker's thread ends when asked, whatever it was doing at that moment: a shutdown that hangs
// is a node that systemd or Kubernetes has to kill.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>

#include "relay/server/worker.h"

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

}  // namespace
}  // namespace derp::testing
