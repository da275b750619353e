// Worker packing (relay/server/worker_packing.h): the rule that sets how many workers carry
// clients, the hash that says which one a connection lives on, and the core's half of a move (the
// session leaves one worker's tables for another's, the registry and stale messages follow it)
// with two workers driven by the test's thread.
#include "relay/server/worker_packing.h"

#include <gtest/gtest.h>

#include <array>
#include <map>

#include "relay/server/worker.h"
#include "tests/support/session_harness.h"

namespace derp::testing {
namespace {

namespace proto = protocol;
using server::home_worker;
using server::PackingThresholds;
using server::WorkerPacking;

// Feeds the same busy shares `times` intervals; returns the active count after the last.
std::size_t observe_for(WorkerPacking& p, std::vector<double> busy, int times) {
  std::size_t active = p.active();
  for (int i = 0; i < times; ++i) active = p.observe(busy);
  return active;
}

TEST(WorkerPacking, StartsWithOneWorkerAndStaysThereWhileItIsNotBusy) {
  WorkerPacking p(4, PackingThresholds{});
  EXPECT_EQ(p.active(), 1u);
  EXPECT_EQ(observe_for(p, {0.74, 0, 0, 0}, 100), 1u);
}

TEST(WorkerPacking, ABusyActiveWorkerBringsInOneMorePerInterval) {
  WorkerPacking p(3, PackingThresholds{});
  EXPECT_EQ(p.observe(std::vector<double>{0.75, 0, 0}), 2u);
  EXPECT_EQ(p.observe(std::vector<double>{0.2, 0.9, 0}), 3u);
  EXPECT_EQ(p.observe(std::vector<double>{1, 1, 1}), 3u);  // all of them already
}

TEST(WorkerPacking, AnInactiveWorkersLoadDoesNotSpread) {
  // Idle connections that never moved, or a mesh link, keep an inactive worker busy: more active
  // workers would not relieve it.
  WorkerPacking p(2, PackingThresholds{});
  EXPECT_EQ(observe_for(p, {0.1, 0.95}, 5), 1u);
}

TEST(WorkerPacking, LetsOneGoOnlyAfterTheHoldAndTenQuietIntervals) {
  PackingThresholds t;
  WorkerPacking p(2, t);
  ASSERT_EQ(p.observe(std::vector<double>{0.8, 0}), 2u);
  // Quiet at once, but what the spread costs is measured first.
  EXPECT_EQ(observe_for(p, {0.1, 0.1}, t.intervals_held_after_growing - 1), 2u);
  EXPECT_EQ(observe_for(p, {0.1, 0.1}, 1), 1u);
}

TEST(WorkerPacking, QuietMeansUnderTheThresholdPerRemainingWorkerInARow) {
  PackingThresholds t;
  t.intervals_held_after_growing = 0;
  WorkerPacking p(3, t);
  p.observe(std::vector<double>{0.8, 0, 0});
  p.observe(std::vector<double>{0.8, 0.8, 0});
  ASSERT_EQ(p.active(), 3u);
  // 0.59 over three workers would fit in two at under 30 % each; 0.61 would not.
  EXPECT_EQ(observe_for(p, {0.3, 0.3, 0.01}, 9), 3u);
  EXPECT_EQ(observe_for(p, {0.3, 0.3, 0.01}, 1), 3u);  // 0.61
  EXPECT_EQ(observe_for(p, {0.2, 0.2, 0.19}, 9), 3u);
  EXPECT_EQ(p.observe(std::vector<double>{0.3, 0.3, 0.01}), 3u);  // a busy interval resets
  EXPECT_EQ(observe_for(p, {0.2, 0.2, 0.19}, 9), 3u);
  EXPECT_EQ(observe_for(p, {0.2, 0.2, 0.19}, 1), 2u);
  EXPECT_EQ(observe_for(p, {0.1, 0.1, 0}, 10), 1u);
  EXPECT_EQ(observe_for(p, {0, 0, 0}, 50), 1u);  // never fewer than one
}

TEST(WorkerPacking, ALowSpreadThresholdLowersTheQuietOneToo) {
  // Spreading at 20 %: quiet means under 8 % per remaining worker, not the usual 30 %, or two
  // workers at 12 % each would let one go and bring it back again and again.
  PackingThresholds t;
  t.grow_busy = 0.2;
  t.intervals_held_after_growing = 0;
  WorkerPacking p(2, t);
  ASSERT_EQ(p.observe(std::vector<double>{0.25, 0}), 2u);
  EXPECT_EQ(observe_for(p, {0.12, 0.12}, 100), 2u);
  EXPECT_EQ(observe_for(p, {0.04, 0.03}, 10), 1u);
}

TEST(WorkerPacking, ZeroSpreadsOverEveryWorkerOneIntervalAtATime) {
  PackingThresholds t;
  t.grow_busy = 0;
  WorkerPacking p(3, t);
  EXPECT_EQ(p.observe(std::vector<double>{0, 0, 0}), 2u);
  EXPECT_EQ(p.observe(std::vector<double>{0, 0, 0}), 3u);
  EXPECT_EQ(observe_for(p, {0, 0, 0}, 100), 3u);
}

TEST(HomeWorker, OneActiveWorkerHoldsEveryone) {
  for (std::uint64_t id = 1; id < 1000; ++id) EXPECT_EQ(home_worker(id, 1), 0u);
}

TEST(HomeWorker, SpreadsEvenlyAndABroughtInWorkerTakesOnlyItsShare) {
  constexpr std::uint64_t kConns = 12000;
  for (std::size_t active = 2; active <= 8; ++active) {
    std::map<std::uint32_t, int> per_worker;
    std::uint64_t moved = 0;
    for (std::uint64_t id = 1; id <= kConns; ++id) {
      const std::uint32_t before = home_worker(id, active - 1);
      const std::uint32_t after = home_worker(id, active);
      ASSERT_LT(after, active);
      ++per_worker[after];
      if (after != before) {
        ++moved;
        // Only to the new worker: nobody else is shuffled around.
        EXPECT_EQ(after, active - 1) << "connection " << id;
      }
    }
    const double fair = static_cast<double>(kConns) / static_cast<double>(active);
    for (const auto& [w, n] : per_worker) {
      EXPECT_NEAR(n, fair, fair * 0.1) << active << " workers, worker " << w;
    }
    EXPECT_NEAR(static_cast<double>(moved), fair, fair * 0.1) << active << " workers";
  }
}

TEST(HomeWorker, NeighbouringIdsAreIndependent) {
  // Clients connect in turn, so the two ends of a pair often have consecutive ids: their homes
  // must not follow the ids' parity (every pair would be split over two workers).
  for (std::size_t active = 2; active <= 4; ++active) {
    int together = 0;
    constexpr int kPairs = 6000;
    for (std::uint64_t id = 1; id < 2 * kPairs; id += 2) {
      if (home_worker(id, active) == home_worker(id + 1, active)) ++together;
    }
    const double fair = kPairs / static_cast<double>(active);
    EXPECT_NEAR(together, fair, fair * 0.1) << active << " workers";
  }
}

// Two workers, neither started: the test plays both threads in turn.
struct TwoWorkers {
  explicit TwoWorkers(bool pack = true)
      : core(std::nullopt, nullptr, [pack](server::ServerConfig& c) {
          c.workers = 2;
          c.pack_workers = pack;
        }) {}
  server::Server& srv() { return *core.server; }
  server::Worker& worker(std::size_t i) { return core.server->worker(i); }
  CoreHarness core;
};

void handshake(SessionUnderTest& s, server::Server& srv) {
  proto::ClientInfo info;
  info.version = 2;
  ASSERT_TRUE(s.feed(client_info_frame(s.client_key, srv.public_key(), info)));
  s.drain();
}

// A sender and a receiver on the given workers, both past their handshake.
struct SenderAndReceiver {
  SenderAndReceiver(std::uint32_t sender_on, std::uint32_t receiver_on)
      : sender(w.srv(), proto::NodePrivate::generate(), sender_on),
        receiver(w.srv(), proto::NodePrivate::generate(), receiver_on) {
    handshake(sender, w.srv());
    handshake(receiver, w.srv());
  }
  TwoWorkers w;
  SessionUnderTest sender;
  SessionUnderTest receiver;
};

// Sends `count` packets from `from` to `to` in rounds the receiver's queue holds, delivering
// what went through worker inboxes; returns the packets `to` received.
std::vector<Frame> exchange(TwoWorkers& w, SessionUnderTest& from, SessionUnderTest& to, int count,
                            std::uint8_t first = 0) {
  std::vector<Frame> got;
  for (int sent = 0; sent < count;) {
    std::vector<std::uint8_t> bytes;
    for (int i = 0; i < 16 && sent < count; ++i, ++sent) {
      proto::append_send_packet(bytes, to.client_key.public_key(),
                                std::vector<std::uint8_t>{static_cast<std::uint8_t>(first + sent)});
    }
    EXPECT_TRUE(from.feed(bytes));
    w.worker(0).run_pending();
    w.worker(1).run_pending();
    for (auto& f : to.drain()) got.push_back(f);
  }
  return got;
}

TEST(PackedSessions, AnEstablishedSessionOnAnInactiveWorkerWantsWorkerZero) {
  TwoWorkers w;
  SessionUnderTest early(w.srv(), proto::NodePrivate::generate(), 1);
  EXPECT_FALSE(early.session->move_wanted());  // still in its handshake
  handshake(early, w.srv());
  EXPECT_EQ(early.session->move_wanted(), std::optional<std::uint32_t>(0));
  SessionUnderTest home(w.srv(), proto::NodePrivate::generate(), 0);
  handshake(home, w.srv());
  EXPECT_FALSE(home.session->move_wanted());
}

TEST(PackedSessions, SpreadingMovesTheSessionsWhoseHomeIsTheNewWorker) {
  TwoWorkers w;
  std::vector<std::unique_ptr<SessionUnderTest>> sessions;
  for (int i = 0; i < 40; ++i) {
    sessions.push_back(
        std::make_unique<SessionUnderTest>(w.srv(), proto::NodePrivate::generate(), 0));
    handshake(*sessions.back(), w.srv());
    EXPECT_FALSE(sessions.back()->session->move_wanted());
  }
  w.srv().apply_packing(std::array<double, 2>{0.9, 0});
  ASSERT_EQ(w.srv().active_workers(), 2u);
  int to_one = 0;
  for (auto& s : sessions) {
    auto wanted = s->session->move_wanted();
    EXPECT_EQ(wanted.has_value(), home_worker(s->session->conn_id(), 2) == 1);
    if (wanted) {
      EXPECT_EQ(*wanted, 1u);
      ++to_one;
    }
  }
  EXPECT_GT(to_one, 5);
  EXPECT_LT(to_one, 35);
}

TEST(PackedSessions, OffKeepsEverySessionWhereItWasAccepted) {
  TwoWorkers w(/*pack=*/false);
  EXPECT_EQ(w.srv().active_workers(), 2u);
  SessionUnderTest a(w.srv(), proto::NodePrivate::generate(), 1);
  SessionUnderTest b(w.srv(), proto::NodePrivate::generate(), 0);
  handshake(a, w.srv());
  handshake(b, w.srv());
  w.srv().apply_packing(std::array<double, 2>{0, 0});
  EXPECT_FALSE(a.session->move_wanted());
  EXPECT_FALSE(b.session->move_wanted());
}

TEST(PackedSessions, MeshPeersAndWatchersStayPut) {
  proto::KeyBytes mesh_key{};
  mesh_key[0] = 1;
  CoreHarness core(mesh_key, nullptr, [](server::ServerConfig& c) { c.workers = 2; });
  SessionUnderTest mesh(*core.server, proto::NodePrivate::generate(), 1);
  proto::ClientInfo info;
  info.version = 2;
  info.mesh_key = mesh_key;
  ASSERT_TRUE(mesh.feed(client_info_frame(mesh.client_key, core.server->public_key(), info)));
  mesh.drain();
  ASSERT_TRUE(mesh.session->can_mesh());
  EXPECT_FALSE(mesh.session->move_wanted());
}

TEST(PackedSessions, TheMovedReceiverGetsEveryPacketInOrder) {
  SenderAndReceiver pair(0, 1);
  auto& [w, sender, receiver] = pair;

  auto got = exchange(w, sender, receiver, 32);
  ASSERT_EQ(got.size(), 32u);
  EXPECT_EQ(w.srv().stats().packets_handed_over, 32u);
  ASSERT_EQ(receiver.session->move_wanted(), std::optional<std::uint32_t>(0));
  EXPECT_FALSE(sender.session->move_wanted());

  // What the transport does (relay/http/socket_connection.h), with the arrival still queued.
  receiver.session->depart(w.worker(0));
  EXPECT_FALSE(receiver.session->move_wanted());
  EXPECT_EQ(w.worker(0).session_count(), 1u);  // not yet in worker 0's table
  EXPECT_EQ(w.worker(1).session_count(), 0u);
  EXPECT_EQ(w.srv().sessions_in_transit(), 1u);
  // Until it arrives, the registry still names worker 1.
  EXPECT_EQ(w.srv().registry().lookup(receiver.client_key.public_key()).active->worker, 1u);

  // Worker 0 routes the next packet to worker 1, which passes it on to worker 0, behind the
  // arrival in worker 0's inbox.
  std::vector<std::uint8_t> bytes;
  proto::append_send_packet(bytes, receiver.client_key.public_key(), std::vector<std::uint8_t>{7});
  ASSERT_TRUE(sender.feed(bytes));
  w.worker(1).run_pending();
  EXPECT_TRUE(receiver.drain().empty());
  receiver.session->arrive();
  EXPECT_EQ(w.srv().registry().lookup(receiver.client_key.public_key()).active->worker, 0u);
  EXPECT_EQ(w.srv().sessions_in_transit(), 0u);
  w.worker(0).run_pending();
  auto late = receiver.drain();
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(proto::parse_recv_packet(late[0].payload).value.packet[0], 7);
  EXPECT_EQ(w.worker(0).session_count(), 2u);

  // From now on packets go straight from the sender to the receiver, on worker 0.
  got = exchange(w, sender, receiver, 64);
  ASSERT_EQ(got.size(), 64u);
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(proto::parse_recv_packet(got[i].payload).value.packet[0], i) << i;
  }
  EXPECT_EQ(w.srv().stats().packets_handed_over, 33u);  // the first 32, and the one forwarded
  EXPECT_EQ(w.srv().stats().sessions_moved, 1u);
  EXPECT_EQ(w.srv().stats().current_connections, 2);
}

// The packet routed to the old worker before the arrival is passed on only when that worker
// next reads its inbox; one the sender routes after the arrival goes straight to the session. The
// later must not overtake the earlier (seen as reordered packets right after a TLS fast-start
// connect, while the new connection moved to the worker its peer was on).
TEST(PackedSessions, APacketSentAfterTheArrivalDoesNotOvertakeOnePassedOnByTheOldWorker) {
  SenderAndReceiver pair(0, 1);
  auto& w = pair.w;
  auto& sender = pair.sender;
  auto& receiver = pair.receiver;
  receiver.session->depart(w.worker(0));
  auto send = [&](std::uint8_t n) {
    std::vector<std::uint8_t> bytes;
    proto::append_send_packet(bytes, receiver.client_key.public_key(),
                              std::vector<std::uint8_t>{n});
    ASSERT_TRUE(sender.feed(bytes));
  };
  send(1);  // to worker 1: the registry still names it
  receiver.session->arrive();
  send(2);  // straight to the session, now on worker 0
  send(3);
  w.worker(1).run_pending();  // passes packet 1 on
  w.worker(0).run_pending();
  w.worker(1).run_pending();  // the settle marker, in case it went round behind
  w.worker(0).run_pending();
  std::vector<int> order;
  for (const auto& f : receiver.drain()) {
    order.push_back(proto::parse_recv_packet(f.payload).value.packet[0]);
  }
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  // And once settled, packets go straight through again.
  send(4);
  auto next = receiver.drain();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(proto::parse_recv_packet(next[0].payload).value.packet[0], 4);
}

// A second move before the first settled would carry held packets past ones the first old
// worker still passes on; so the session waits for the marker before it moves again.
TEST(PackedSessions, ASessionDoesNotMoveAgainUntilItsMoveHasSettled) {
  TwoWorkers w;
  // Sessions accepted on worker 1 move to worker 0 (one active worker); one whose home is worker
  // 1 once both are active is the one that would move again.
  std::vector<std::unique_ptr<SessionUnderTest>> sessions;
  SessionUnderTest* mover = nullptr;
  while (!mover && sessions.size() < 64) {
    sessions.push_back(
        std::make_unique<SessionUnderTest>(w.srv(), proto::NodePrivate::generate(), 1));
    handshake(*sessions.back(), w.srv());
    if (home_worker(sessions.back()->session->conn_id(), 2) == 1) mover = sessions.back().get();
  }
  ASSERT_NE(mover, nullptr);
  ASSERT_EQ(mover->session->move_wanted(), std::optional<std::uint32_t>(0));
  mover->session->depart(w.worker(0));
  mover->session->arrive();
  w.srv().apply_packing(std::array<double, 2>{0.9, 0});
  ASSERT_EQ(w.srv().active_workers(), 2u);
  EXPECT_FALSE(mover->session->move_wanted()) << "its first move has not settled";
  w.worker(1).run_pending();  // the marker goes round the old worker…
  w.worker(0).run_pending();  // …and back
  EXPECT_EQ(mover->session->move_wanted(), std::optional<std::uint32_t>(1));
}

TEST(PackedSessions, TheOldWorkerForwardsInsteadOfServingASessionThatLeft) {
  // The registry still names worker 0 while the receiver is on its way to worker 1: a sender on
  // worker 0 must not queue the packet on the session directly (its socket is in transit; the
  // write would fail and race with worker 1), but pass it on behind the arrival.
  SenderAndReceiver pair(0, 0);
  auto& [w, sender, receiver] = pair;
  receiver.session->depart(w.worker(1));
  std::vector<std::uint8_t> bytes;
  proto::append_send_packet(bytes, receiver.client_key.public_key(), std::vector<std::uint8_t>{9});
  ASSERT_TRUE(sender.feed(bytes));
  EXPECT_FALSE(receiver.session->has_output());
  w.worker(0).run_pending();  // forwarded to worker 1
  receiver.session->arrive();
  w.worker(1).run_pending();
  auto got = receiver.drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(proto::parse_recv_packet(got[0].payload).value.packet[0], 9);
}

TEST(PackedSessions, APeerThatLeavesWhileTheSessionIsBetweenWorkersIsStillAnnounced) {
  // The sender leaves while the receiver is in transit: the old worker no longer holds the
  // receiver's subscription, the new one does not hold it yet.
  SenderAndReceiver pair(0, 1);  // the receiver heard from the sender: it is owed a PeerGone
  auto& [w, sender, receiver] = pair;
  ASSERT_EQ(exchange(w, sender, receiver, 4).size(), 4u);
  receiver.session->depart(w.worker(0));
  sender.session->shutdown();
  w.worker(0).run_pending();
  w.worker(1).run_pending();
  receiver.session->arrive();
  auto frames = receiver.drain();
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_EQ(frames[0].type, static_cast<std::uint8_t>(proto::FrameType::kPeerGone));
  auto gone = proto::parse_peer_gone(frames[0].payload);
  EXPECT_EQ(gone.value.key, sender.client_key.public_key());
  EXPECT_EQ(gone.value.reason, proto::PeerGoneReason::kDisconnected);
}

TEST(PackedSessions, APeerStillHereIsNotAnnouncedAtArrivalAndLaterLeavesAsUsual) {
  SenderAndReceiver pair(0, 1);  // the receiver heard from the sender: it is owed a PeerGone
  auto& [w, sender, receiver] = pair;
  ASSERT_EQ(exchange(w, sender, receiver, 4).size(), 4u);
  receiver.session->depart(w.worker(0));
  receiver.session->arrive();
  EXPECT_TRUE(receiver.drain().empty());
  sender.session->shutdown();
  w.worker(0).run_pending();
  w.worker(1).run_pending();
  auto frames = receiver.drain();
  ASSERT_EQ(frames.size(), 1u);  // once: through the subscription on its new worker
  EXPECT_EQ(proto::parse_peer_gone(frames[0].payload).value.key, sender.client_key.public_key());
}

TEST(PackedSessions, MessagesSentToTheOldWorkerFollowTheSession) {
  TwoWorkers w;
  SessionUnderTest receiver(w.srv(), proto::NodePrivate::generate(), 1);
  handshake(receiver, w.srv());
  receiver.session->depart(w.worker(0));
  receiver.session->arrive();

  // Looked up before the move: addressed to worker 1, where the session no longer is.
  auto frame = server::allocate_packet(proto::kFrameHeaderLen + proto::kKeyLen + 1);
  proto::write_recv_packet_prefix(frame->data(), proto::NodePrivate::generate().public_key(), 1);
  frame->data()[proto::kFrameHeaderLen + proto::kKeyLen] = 42;
  w.worker(1).post(server::DeliverPacket{receiver.session->conn_id(), std::move(frame)});
  w.worker(1).run_pending();
  EXPECT_TRUE(receiver.drain().empty());
  w.worker(0).run_pending();
  auto got = receiver.drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(proto::parse_recv_packet(got[0].payload).value.packet[0], 42);

  w.worker(1).post(server::CloseConnection{receiver.session->conn_id(), "closed by a test"});
  w.worker(1).run_pending();
  EXPECT_FALSE(receiver.transport.closed);
  w.worker(0).run_pending();
  EXPECT_TRUE(receiver.transport.closed);
  EXPECT_EQ(
      w.srv().stats().packets_dropped[static_cast<int>(server::DropReason::kGoneDisconnected)][0],
      0u);
}

}  // namespace
}  // namespace derp::testing
