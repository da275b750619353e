// The drain state machine on a core with no sockets: the test plays the timer (step()) and the
// worker (run_pending()), and the fake transports show who got Restarting and who was closed.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "relay/server/drain_controller.h"
#include "relay/server/worker.h"
#include "tests/support/session_harness.h"

namespace derp::testing {
namespace {

using server::DrainController;
using server::DrainOptions;
using server::DrainProgress;
using server::DrainState;

protocol::ClientInfo info_with(std::optional<protocol::KeyBytes> mesh_key = std::nullopt) {
  protocol::ClientInfo info;
  info.version = 2;
  info.mesh_key = mesh_key;
  return info;
}

struct DrainFixture : ::testing::Test {
  DrainFixture() : core(mesh_key) {
    hooks.refuse_new_connections = [this](bool r) { refusing = r; };
    hooks.stun_replies = [this](bool e) { stun_enabled = e; };
    hooks.state_changed = [this](DrainState s) { states.push_back(s); };
    controller = std::make_unique<DrainController>(*core.server, io.get_executor(), hooks);
    controller->subscribe([this](const DrainProgress& p) { reports.push_back(p); });
  }
  ~DrainFixture() override {
    controller.reset();
    sessions.clear();
  }
  SessionUnderTest& connect(bool mesh = false) {
    sessions.push_back(std::make_unique<SessionUnderTest>(*core.server));
    auto& s = *sessions.back();
    auto bytes = client_info_frame(s.client_key, core.server->public_key(),
                                   info_with(mesh ? std::optional(mesh_key) : std::nullopt));
    EXPECT_TRUE(s.feed(bytes));
    s.drain();  // ServerKey, ServerInfo
    return s;
  }
  // One tick: the controller decides, the worker acts, closed connections finish.
  void tick() {
    controller->step();
    core.server->worker(0).run_pending();
    for (auto& s : sessions) {
      if (s->transport.closed) s->session->shutdown();
    }
  }
  bool got_restarting(SessionUnderTest& s) {
    for (const auto& f : s.drain()) {
      if (f.type == static_cast<std::uint8_t>(protocol::FrameType::kRestarting)) {
        auto hint = protocol::parse_restarting(f.payload);
        EXPECT_TRUE(hint.value.reconnect_in_ms <= 5000u);
        EXPECT_EQ(hint.value.try_for_ms, 10000u);
        return true;
      }
    }
    return false;
  }
  std::size_t closed_count() {
    std::size_t n = 0;
    for (auto& s : sessions) n += s->transport.closed ? 1 : 0;
    return n;
  }

  protocol::KeyBytes mesh_key{7, 7, 7};
  CoreHarness core;
  boost::asio::io_context io;  // never run: the test calls step() itself
  server::DrainHooks hooks;
  std::unique_ptr<DrainController> controller;
  std::vector<std::unique_ptr<SessionUnderTest>> sessions;
  std::vector<DrainProgress> reports;
  std::vector<DrainState> states;
  bool refusing = false;
  bool stun_enabled = true;
};

TEST_F(DrainFixture, ServingUntilAskedAndUndrainNeedsADrain) {
  EXPECT_EQ(controller->progress().state, DrainState::kServing);
  EXPECT_FALSE(controller->undrain());
  tick();  // a step while serving does nothing
  EXPECT_EQ(controller->progress().state, DrainState::kServing);
}

TEST_F(DrainFixture, RestartingFirstThenBatchesThenMeshPeersLast) {
  for (int i = 0; i < 25; ++i) connect();
  auto& mesh = connect(/*mesh=*/true);
  ASSERT_TRUE(mesh.session->can_mesh());

  DrainOptions o;
  o.reconnect_jitter = std::chrono::milliseconds(0);  // close as soon as a batch allows
  o.batch_size = 10;
  o.interval = std::chrono::milliseconds(100);
  o.deadline = std::chrono::minutes(1);
  o.stop_stun = true;
  ASSERT_TRUE(controller->drain(o));
  EXPECT_FALSE(controller->drain(o)) << "a second drain is refused while draining";
  EXPECT_TRUE(refusing);
  EXPECT_FALSE(stun_enabled);
  EXPECT_EQ(controller->progress().state, DrainState::kDraining);

  tick();  // step 0: Restarting to every client, nobody closed yet
  EXPECT_EQ(closed_count(), 0u);
  for (auto& s : sessions) {
    EXPECT_EQ(got_restarting(*s), !s->session->can_mesh());
  }

  tick();
  EXPECT_EQ(closed_count(), 10u);
  EXPECT_FALSE(mesh.transport.closed);
  tick();
  EXPECT_EQ(closed_count(), 20u);
  tick();
  EXPECT_EQ(closed_count(), 25u);
  EXPECT_FALSE(mesh.transport.closed) << "mesh peers stay until every client is gone";
  tick();
  EXPECT_TRUE(mesh.transport.closed);
  EXPECT_EQ(controller->progress().state, DrainState::kDraining);
  tick();
  auto p = controller->progress();
  EXPECT_EQ(p.state, DrainState::kDrained);
  EXPECT_EQ(p.closed, 26u);
  EXPECT_EQ(p.remaining, 0u);
  EXPECT_TRUE(refusing) << "a drained node keeps refusing";
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().state, DrainState::kDrained);

  ASSERT_TRUE(controller->undrain());
  EXPECT_FALSE(refusing);
  EXPECT_TRUE(stun_enabled);
  EXPECT_EQ(states, (std::vector<DrainState>{DrainState::kDraining, DrainState::kDrained,
                                             DrainState::kServing}));
}

TEST_F(DrainFixture, DeadlineClosesEveryoneAtOnce) {
  for (int i = 0; i < 5; ++i) connect();
  connect(true);
  DrainOptions o;
  o.reconnect_jitter = std::chrono::milliseconds(0);  // close as soon as a batch allows
  o.batch_size = 1;
  o.deadline = std::chrono::milliseconds(1);
  o.interval = std::chrono::milliseconds(1);
  ASSERT_TRUE(controller->drain(o));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  tick();
  EXPECT_EQ(closed_count(), 6u);
  EXPECT_TRUE(controller->progress().deadline_passed);
  tick();
  EXPECT_EQ(controller->progress().state, DrainState::kDrained);
}

TEST_F(DrainFixture, AutomaticBatchSpreadsClientsOverTheDeadline) {
  for (int i = 0; i < 40; ++i) connect();
  DrainOptions o;  // batch 0: automatic
  o.reconnect_jitter = std::chrono::milliseconds(0);
  o.deadline = std::chrono::seconds(10);
  o.interval = std::chrono::seconds(1);
  ASSERT_TRUE(controller->drain(o));
  tick();
  tick();
  // 40 clients over ~9 steps (one kept for mesh peers): 5 per step.
  EXPECT_GE(closed_count(), 4u);
  EXPECT_LE(closed_count(), 6u);
}

TEST_F(DrainFixture, NoClientIsClosedBeforeItsReconnectHint) {
  for (int i = 0; i < 10; ++i) connect();
  DrainOptions o;
  o.batch_size = 10;
  o.reconnect_jitter = std::chrono::hours(1);  // every hint lies far beyond this test
  o.deadline = std::chrono::hours(2);
  ASSERT_TRUE(controller->drain(o));
  tick();
  tick();
  tick();
  EXPECT_EQ(closed_count(), 0u) << "clients were closed before the time their Restarting named";
}

TEST_F(DrainFixture, NoClientsMeansDrainedAtOnce) {
  ASSERT_TRUE(controller->drain({}));
  tick();
  EXPECT_EQ(controller->progress().state, DrainState::kDrained);
}

TEST_F(DrainFixture, UndrainMidwayStopsClosing) {
  for (int i = 0; i < 10; ++i) connect();
  DrainOptions o;
  o.reconnect_jitter = std::chrono::milliseconds(0);  // close as soon as a batch allows
  o.batch_size = 2;
  ASSERT_TRUE(controller->drain(o));
  tick();
  tick();
  EXPECT_EQ(closed_count(), 2u);
  controller->step();  // a batch is queued for the worker …
  ASSERT_TRUE(controller->undrain());
  core.server->worker(0).run_pending();  // … and dropped, because the drain was undone
  EXPECT_EQ(closed_count(), 2u);
  EXPECT_FALSE(refusing);
  EXPECT_EQ(controller->progress().state, DrainState::kServing);
}

TEST_F(DrainFixture, WithoutRestartingClientsCloseFromTheFirstBatch) {
  for (int i = 0; i < 3; ++i) connect();
  DrainOptions o;
  o.reconnect_jitter = std::chrono::milliseconds(0);  // close as soon as a batch allows
  o.batch_size = 3;
  o.send_restarting = false;
  ASSERT_TRUE(controller->drain(o));
  tick();
  tick();
  EXPECT_EQ(closed_count(), 3u);
  for (auto& s : sessions) EXPECT_FALSE(got_restarting(*s));
}

TEST(DrainProgressText, SaysWhatIsLeft) {
  DrainProgress p;
  p.state = DrainState::kDraining;
  p.closed = 40;
  p.remaining = 10;
  p.remaining_mesh = 2;
  EXPECT_EQ(p.describe(), "draining: closed 40, 10 remaining (2 mesh peers)");
}

}  // namespace
}  // namespace derp::testing
