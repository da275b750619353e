// ask_every_worker runs a task on each worker's own thread and gathers the answers; a caller's wait
// is bounded, so one wedged worker cannot wedge it.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "relay/server/ask_workers.h"

namespace derp::testing {
namespace {

server::ServerConfig two_workers() {
  server::ServerConfig config;
  config.private_key = protocol::NodePrivate::generate();
  config.workers = 2;
  return config;
}

TEST(AskWorkers, EachWorkerAnswersOnItsOwnThread) {
  server::Server s(two_workers());
  s.start();
  auto answers = server::ask_every_worker<int>(s, [](server::Worker& w) {
    return server::Worker::current() == &w ? static_cast<int>(w.index()) : -1;
  });
  auto got = server::wait_at_most(answers, std::chrono::seconds(5));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, (std::vector<int>{0, 1}));
  s.stop();
}

TEST(AskWorkers, AWedgedWorkerMakesTheWaitGiveUpNotHang) {
  server::Server s(two_workers());
  s.start();
  std::atomic<bool> release{false};
  s.post(1, server::RunOnWorker{[&release] {
           while (!release.load()) std::this_thread::yield();
         }});
  auto answers = server::ask_every_worker<int>(s, [](server::Worker&) { return 1; });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(server::wait_at_most(answers, std::chrono::milliseconds(200)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  release = true;
  // Once it wakes, the late answer still arrives (the task owned what it touched).
  EXPECT_TRUE(server::wait_at_most(answers, std::chrono::seconds(5)));
  s.stop();
}

}  // namespace
}  // namespace derp::testing
