// The core's thread rules are checked, not only written down: in debug and sanitizer builds
// (DERP_CHECKS) touching a running worker's sessions from another thread aborts at once.
#include <gtest/gtest.h>

#include "relay/server/server.h"
#include "relay/server/worker.h"

namespace derp::testing {
namespace {

TEST(ThreadRules, ARunningWorkersSessionsAreTouchedOnItsThreadOnly) {
#if !defined(DERP_CHECKS)
  GTEST_SKIP() << "DERP_ASSERT is compiled out of release builds; the sanitizer builds run this";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        server::ServerConfig config;
        config.private_key = protocol::NodePrivate::generate();
        config.workers = 1;
        server::Server s(config);
        s.start();
        (void)s.worker(0).find_session(1);  // from the test's thread: not the worker's
      },
      "DERP_ASSERT\\(owns_current_thread\\(\\)\\) failed");
#endif
}

TEST(ThreadRules, AWorkerNotRunningBelongsToWhoeverDrivesIt) {
  server::ServerConfig config;
  config.private_key = protocol::NodePrivate::generate();
  config.workers = 1;
  server::Server s(config);
  EXPECT_TRUE(s.worker(0).owns_current_thread());
  EXPECT_EQ(s.worker(0).find_session(1), nullptr);  // no abort: the test drives this worker
}

}  // namespace
}  // namespace derp::testing
