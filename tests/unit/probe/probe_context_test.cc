// A probe's deadline (derpctl/probe/probe_context.h): everything registered is closed when it
// passes, and something registered later (after a step that could not be interrupted, such as a
// name resolution, ran past it) is closed at once, so no probe waits forever.
#include "derpctl/probe/probe_context.h"

#include <gtest/gtest.h>

namespace derpctl::probe {
namespace {

struct Thing {
  bool closed = false;
  bool cancelled = false;
  void close() { closed = true; }
  void cancel() { cancelled = true; }
};

TEST(ProbeContext, ClosesWhatIsRegisteredAtTheDeadlineAndLaterAtOnce) {
  ProbeContext ctx(std::chrono::steady_clock::now());
  auto early = std::make_shared<Thing>();
  auto gone = std::make_shared<Thing>();
  ctx.close_on_timeout(early);
  ctx.cancel_on_timeout(gone);
  gone.reset();  // held weakly: skipped
  EXPECT_FALSE(early->closed);
  ctx.expire();
  EXPECT_TRUE(ctx.timed_out());
  EXPECT_TRUE(early->closed);
  auto late = std::make_shared<Thing>();
  ctx.close_on_timeout(late);
  EXPECT_TRUE(late->closed);
  auto late_timer = std::make_shared<Thing>();
  ctx.cancel_on_timeout(late_timer);
  EXPECT_TRUE(late_timer->cancelled);
}

}  // namespace
}  // namespace derpctl::probe
