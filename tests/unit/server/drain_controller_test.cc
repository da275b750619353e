// The drain state machine on a core with no sockets: the test plays the timer (step()) and the
// worker (run_pending()), and the fake transports show who was asked to leave, with what, and who
// was closed.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <thread>

#include "relay/server/drain_controller.h"
#include "relay/server/worker.h"
#include "tests/support/session_harness.h"

namespace derp::testing {
namespace {

using server::DrainController;
using server::DrainOptions;
using server::DrainProgress;
using server::DrainState;
using std::chrono::milliseconds;

protocol::ClientInfo info_with(std::optional<protocol::KeyBytes> mesh_key = std::nullopt) {
  protocol::ClientInfo info;
  info.version = 2;
  info.mesh_key = mesh_key;
  return info;
}

struct DrainFixture : ::testing::Test {
  DrainFixture() : core(mesh_key, &ManualClock::now) {
    hooks.accept_connections = [this](bool accept) {
      accept_calls.push_back(accept);
      accepting = accept ? resume_error.empty() : false;
      return accept ? resume_error : std::string();
    };
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
  // One tick: the controller decides, the worker acts. Clients that were asked to leave close
  // their side at once (as Tailscale's do on the end of the stream) when `clients_close` is set.
  void tick(bool clients_close = true) {
    controller->step();
    core.server->worker(0).run_pending();
    for (auto& s : sessions) {
      if (s->transport.closed || (clients_close && s->transport.ending_output)) {
        s->session->shutdown();
      }
    }
  }
  // Whether a Restarting frame was queued for `s` (a leaving session's output is still written).
  bool got_restarting(SessionUnderTest& s) {
    for (const auto& f : s.drain()) {
      if (f.type == static_cast<std::uint8_t>(protocol::FrameType::kRestarting)) {
        auto hint = protocol::parse_restarting(f.payload);
        EXPECT_EQ(hint.value.reconnect_in_ms, 0u) << "nobody is asked to wait";
        EXPECT_EQ(hint.value.try_for_ms, 10000u);
        return true;
      }
    }
    return false;
  }
  std::size_t left_count() {
    std::size_t n = 0;
    for (auto& s : sessions) n += s->transport.ending_output ? 1 : 0;
    return n;
  }
  std::size_t hard_closed_count() {
    std::size_t n = 0;
    for (auto& s : sessions) n += s->transport.closed ? 1 : 0;
    return n;
  }
  std::size_t registered_keys() { return core.server->registry().stats().local_keys; }

  protocol::KeyBytes mesh_key{7, 7, 7};
  CoreHarness core;
  boost::asio::io_context io;  // never run: the test calls step() itself
  server::DrainHooks hooks;
  std::unique_ptr<DrainController> controller;
  std::vector<std::unique_ptr<SessionUnderTest>> sessions;
  std::vector<DrainProgress> reports;
  std::vector<DrainState> states;
  std::vector<bool> accept_calls;
  std::string resume_error;
  bool accepting = true;
  bool stun_enabled = true;
};

TEST_F(DrainFixture, ServingUntilAskedAndUndrainNeedsADrain) {
  EXPECT_EQ(controller->progress().state, DrainState::kServing);
  auto r = controller->undrain();
  EXPECT_FALSE(r.changed);
  EXPECT_TRUE(r.error.empty());
  tick();  // a step while serving does nothing
  EXPECT_EQ(controller->progress().state, DrainState::kServing);
  EXPECT_TRUE(accept_calls.empty());
}

TEST_F(DrainFixture, StopsAcceptingBeforeAnyoneLeavesThenBatchesThenMeshPeersLast) {
  for (int i = 0; i < 25; ++i) connect();
  auto& mesh = connect(/*mesh=*/true);
  ASSERT_TRUE(mesh.session->can_mesh());

  DrainOptions o;
  o.batch_size = 10;
  o.interval = milliseconds(100);
  o.deadline = std::chrono::minutes(1);
  o.stop_stun = true;
  ASSERT_TRUE(controller->drain(o));
  EXPECT_FALSE(controller->drain(o)) << "a second drain is refused while draining";
  EXPECT_EQ(accept_calls, std::vector<bool>{false}) << "listeners close when the drain starts";
  EXPECT_EQ(left_count(), 0u) << "nobody leaves before the listeners are closed";
  EXPECT_FALSE(stun_enabled);
  EXPECT_EQ(controller->progress().state, DrainState::kDraining);

  // The first step already moves a batch: no step is spent waiting on a hint.
  tick();
  EXPECT_EQ(left_count(), 10u);
  EXPECT_FALSE(mesh.transport.ending_output);
  tick();
  EXPECT_EQ(left_count(), 20u);
  tick();
  EXPECT_EQ(left_count(), 25u);
  EXPECT_FALSE(mesh.transport.ending_output) << "mesh peers stay until every client is gone";
  for (auto& s : sessions) {
    EXPECT_EQ(got_restarting(*s), !s->session->can_mesh())
        << "clients get Restarting with their goodbye, mesh peers do not";
  }
  tick();
  EXPECT_TRUE(mesh.transport.ending_output);
  EXPECT_EQ(controller->progress().state, DrainState::kDraining);
  tick();
  auto p = controller->progress();
  EXPECT_EQ(p.state, DrainState::kDrained);
  EXPECT_EQ(p.closed, 26u);
  EXPECT_EQ(p.remaining, 0u);
  EXPECT_EQ(hard_closed_count(), 0u) << "everyone left gently; nobody was cut";
  EXPECT_FALSE(accepting) << "a drained node keeps refusing";
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().state, DrainState::kDrained);

  auto r = controller->undrain();
  EXPECT_TRUE(r.changed);
  EXPECT_TRUE(accepting);
  EXPECT_TRUE(stun_enabled);
  EXPECT_EQ(states, (std::vector<DrainState>{DrainState::kDraining, DrainState::kDrained,
                                             DrainState::kServing}));
}

// Moving costs a busy client the packets sent to it meanwhile and an idle one nothing, so the
// busiest leave first, before the siblings are busy taking the rest.
TEST_F(DrainFixture, TheBusiestClientsLeaveFirst) {
  for (int i = 0; i < 6; ++i) connect();
  ManualClock::advance(std::chrono::seconds(1));
  for (int busy : {1, 4}) {
    std::vector<std::uint8_t> frame;
    protocol::append_send_packet(frame, sessions[0]->client_key.public_key(),
                                 std::vector<std::uint8_t>{1, 2, 3});
    ASSERT_TRUE(sessions[busy]->feed(frame));
  }
  DrainOptions o;
  o.batch_size = 2;
  ASSERT_TRUE(controller->drain(o));
  tick(/*clients_close=*/false);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(sessions[i]->transport.ending_output, i == 1 || i == 4) << "client " << i;
  }
}

// A leaving client is out of the registry at once, so packets for it follow it to the node it
// reconnects to (through the mesh), but its own last packets are still relayed.
TEST_F(DrainFixture, ALeavingClientIsUnregisteredAtOnceButStillRelaysWhatItSends) {
  auto& a = connect();
  auto& b = connect();
  ASSERT_EQ(registered_keys(), 2u);
  DrainOptions o;
  o.batch_size = 1;
  ASSERT_TRUE(controller->drain(o));
  tick(/*clients_close=*/false);
  SessionUnderTest& gone = a.transport.ending_output ? a : b;
  SessionUnderTest& stays = a.transport.ending_output ? b : a;
  ASSERT_TRUE(gone.session->leaving());
  EXPECT_EQ(registered_keys(), 1u);
  EXPECT_FALSE(gone.transport.closed) << "a leaving client is not cut: it reads to the end";

  // The leaving client still sends; its packet reaches the one that stays.
  std::vector<std::uint8_t> frame;
  protocol::append_send_packet(frame, stays.client_key.public_key(),
                               std::vector<std::uint8_t>{1, 2, 3});
  EXPECT_TRUE(gone.feed(frame));
  core.server->worker(0).run_pending();
  bool delivered = false;
  for (const auto& f : stays.drain()) {
    delivered |= f.type == static_cast<std::uint8_t>(protocol::FrameType::kRecvPacket);
  }
  EXPECT_TRUE(delivered);
}

TEST_F(DrainFixture, ClientsThatNeverCloseTheirSideAreWaitedForThenTheDeadlineClosesThem) {
  for (int i = 0; i < 3; ++i) connect();
  DrainOptions o;
  o.batch_size = 3;
  o.deadline = milliseconds(500);
  ASSERT_TRUE(controller->drain(o));
  tick(/*clients_close=*/false);
  EXPECT_EQ(left_count(), 3u);
  tick(/*clients_close=*/false);
  EXPECT_EQ(controller->progress().state, DrainState::kDraining);
  EXPECT_EQ(hard_closed_count(), 0u);
  std::this_thread::sleep_for(milliseconds(600));
  tick(/*clients_close=*/false);
  EXPECT_EQ(hard_closed_count(), 3u);
  EXPECT_TRUE(controller->progress().deadline_passed);
  tick();
  EXPECT_EQ(controller->progress().state, DrainState::kDrained);
}

TEST_F(DrainFixture, DeadlineMakesEveryoneLeaveMeshPeersStillLast) {
  for (int i = 0; i < 5; ++i) connect();
  connect(true);
  DrainOptions o;
  o.batch_size = 1;
  o.deadline = milliseconds(1);
  o.interval = milliseconds(1);
  ASSERT_TRUE(controller->drain(o));
  std::this_thread::sleep_for(milliseconds(5));
  tick();
  EXPECT_EQ(left_count(), 5u) << "every client at once; the mesh peer still after them";
  EXPECT_TRUE(controller->progress().deadline_passed);
  tick();
  EXPECT_EQ(left_count(), 6u);
  tick();
  EXPECT_EQ(controller->progress().state, DrainState::kDrained);
}

TEST_F(DrainFixture, RateSetsTheBatchAndZeroMovesEveryoneAtOnce) {
  for (int i = 0; i < 40; ++i) connect();
  DrainOptions o;
  o.clients_per_second = 50;  // 5 per 100 ms
  o.interval = milliseconds(100);
  o.deadline = std::chrono::minutes(5);
  ASSERT_TRUE(controller->drain(o));
  tick(false);
  EXPECT_EQ(left_count(), 5u);
  tick(false);
  EXPECT_EQ(left_count(), 10u);
  ASSERT_TRUE(controller->undrain().changed);

  sessions.clear();
  for (int i = 0; i < 40; ++i) connect();
  o.clients_per_second = 0;
  ASSERT_TRUE(controller->drain(o));
  tick(false);
  EXPECT_EQ(left_count(), 40u);
}

TEST(DrainBatch, GrowsToFinishBeforeTheDeadline) {
  DrainOptions o;
  o.clients_per_second = 500;
  o.interval = milliseconds(100);
  EXPECT_EQ(server::drain_batch_size(o, 1000, 100), 50u);  // the pace is enough
  EXPECT_EQ(server::drain_batch_size(o, 1000, 10), 100u);  // the deadline needs more
  o.batch_size = 7;
  EXPECT_EQ(server::drain_batch_size(o, 1000, 1000), 7u);
  o.batch_size = 0;
  o.clients_per_second = 0;
  EXPECT_EQ(server::drain_batch_size(o, 1000, 1000), 1000u);
}

TEST_F(DrainFixture, NoClientsMeansDrainedAtOnce) {
  ASSERT_TRUE(controller->drain({}));
  tick();
  EXPECT_EQ(controller->progress().state, DrainState::kDrained);
}

TEST_F(DrainFixture, UndrainMidwayStopsTheBatches) {
  for (int i = 0; i < 10; ++i) connect();
  DrainOptions o;
  o.batch_size = 2;
  ASSERT_TRUE(controller->drain(o));
  tick();
  EXPECT_EQ(left_count(), 2u);
  controller->step();  // a batch is queued for the worker …
  ASSERT_TRUE(controller->undrain().changed);
  core.server->worker(0).run_pending();  // … and dropped, because the drain was undone
  EXPECT_EQ(left_count(), 2u);
  EXPECT_TRUE(accepting);
  EXPECT_EQ(controller->progress().state, DrainState::kServing);
}

// A slow worker that has not run its last order gets no new one: batches never pile up.
TEST_F(DrainFixture, AWorkerBehindGetsNoNewBatchUntilItCatchesUp) {
  for (int i = 0; i < 10; ++i) connect();
  DrainOptions o;
  o.batch_size = 2;
  ASSERT_TRUE(controller->drain(o));
  controller->step();
  controller->step();  // the worker has not run the first order yet
  controller->step();
  core.server->worker(0).run_pending();
  EXPECT_EQ(left_count(), 2u) << "one batch, not three";
}

// Once the node is exiting (SIGTERM), undrain is refused.
TEST_F(DrainFixture, UndrainIsRefusedWhileExiting) {
  ASSERT_TRUE(controller->drain({}));
  controller->set_exiting();
  auto r = controller->undrain();
  EXPECT_FALSE(r.changed);
  EXPECT_NE(r.error.find("shutting down"), std::string::npos);
  EXPECT_EQ(controller->progress().state, DrainState::kDraining);
}

// The port was taken while the node was drained: undrain says so and the node stays drained.
TEST_F(DrainFixture, UndrainThatCannotListenAgainKeepsTheNodeDrained) {
  ASSERT_TRUE(controller->drain({}));
  tick();
  ASSERT_EQ(controller->progress().state, DrainState::kDrained);
  resume_error = "cannot listen on http://127.0.0.1:3340: address already in use";
  auto r = controller->undrain();
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(r.error, resume_error);
  EXPECT_EQ(controller->progress().state, DrainState::kDrained);
  resume_error.clear();
  EXPECT_TRUE(controller->undrain().changed);
  EXPECT_EQ(controller->progress().state, DrainState::kServing);
}

TEST_F(DrainFixture, WithoutRestartingClientsJustLeave) {
  for (int i = 0; i < 3; ++i) connect();
  DrainOptions o;
  o.batch_size = 3;
  o.send_restarting = false;
  ASSERT_TRUE(controller->drain(o));
  tick(false);
  EXPECT_EQ(left_count(), 3u);
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
