// The registry and the send queue as tables of steps and expected states (protocol §4.2-§4.4,
// §5.3): duplicate connections and which one is active, PeerGone-worthy removals, mesh routes with
// several forwarders, and the head-drop queue.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "relay/server/client_registry.h"
#include "relay/server/packet_pool.h"
#include "relay/server/send_queue.h"
#include "tests/support/session_harness.h"

namespace derp::testing {
namespace {

using server::ClientRegistry;
using server::ConnRef;

// Sessions only serve as the registry's duplicate-flag targets here; they never handshake.
struct RegistryFixture : ::testing::Test {
  RegistryFixture() : registry([this](std::uint32_t, server::WorkerMessage) { ++posted; }) {
    for (int i = 0; i < 4; ++i)
      sessions.push_back(std::make_unique<SessionUnderTest>(*core.server));
  }
  ConnRef ref(int i) {
    return {0, static_cast<std::uint64_t>(100 + i), sessions[i]->session.get()};
  }
  protocol::PeerPresentFrame presence() {
    protocol::PeerPresentFrame p;
    p.key = key;
    return p;
  }
  std::optional<std::uint64_t> active() {
    auto l = registry.lookup(key);
    return l.active ? std::optional(l.active->conn_id) : std::nullopt;
  }

  CoreHarness core;
  std::vector<std::unique_ptr<SessionUnderTest>> sessions;
  int posted = 0;
  ClientRegistry registry;
  protocol::NodePublic key = protocol::NodePrivate::generate().public_key();
};

// protocol §4.2: the newest connection is active; a duplicate that speaks becomes active; when the
// active one leaves, the most recent of the others in the history takes over.
TEST_F(RegistryFixture, DuplicatesLastWriterIsActive) {
  struct Step {
    const char* what;
    enum { kAdd, kRemove, kSpeak } op;
    int conn;
    std::optional<int> want_active;  // index into sessions; nullopt: key gone
    std::size_t want_dup_conns;
    bool want_gone_from_region;  // remove() result
  };
  const Step steps[] = {
      {"first connection", Step::kAdd, 0, 0, 0, false},
      {"a duplicate arrives: it is active", Step::kAdd, 1, 1, 2, false},
      {"a third", Step::kAdd, 2, 2, 3, false},
      {"the first speaks: it becomes active", Step::kSpeak, 0, 0, 3, false},
      {"the active one leaves: the last speaker before it", Step::kRemove, 0, 2, 2, false},
      {"down to one: it is active and no longer a duplicate", Step::kRemove, 2, 1, 0, false},
      {"the last one leaves: gone from the region", Step::kRemove, 1, std::nullopt, 0, true},
  };
  for (const auto& s : steps) {
    SCOPED_TRACE(s.what);
    bool gone = false;
    switch (s.op) {
      case Step::kAdd:
        registry.add(key, ref(s.conn), presence());
        break;
      case Step::kRemove:
        gone = registry.remove(key, ref(s.conn).conn_id);
        break;
      case Step::kSpeak:
        registry.mark_active(key, ref(s.conn).conn_id);
        break;
    }
    EXPECT_EQ(active(), s.want_active ? std::optional(ref(*s.want_active).conn_id) : std::nullopt);
    EXPECT_EQ(registry.stats().dup_conns, s.want_dup_conns);
    EXPECT_EQ(gone, s.want_gone_from_region);
  }
  EXPECT_EQ(registry.stats().total_dup_conns, 2u);
}

// protocol §5.3: the first sibling to announce a key is preferred; a local connection always wins;
// the key leaves the region only when neither a local connection nor any forwarder has it.
TEST_F(RegistryFixture, MeshRoutesFirstAnnouncerPreferredLocalWins) {
  registry.add_forwarder(key, 7);
  registry.add_forwarder(key, 9);
  registry.add_forwarder(key, 7);  // a repeated PeerPresent changes nothing
  EXPECT_EQ(registry.lookup(key).forwarder, 7u);
  EXPECT_EQ(registry.stats().multiforwarder_created, 1u);

  registry.add(key, ref(0), presence());
  EXPECT_FALSE(registry.lookup(key).forwarder) << "a local connection wins";
  EXPECT_EQ(active(), ref(0).conn_id);
  EXPECT_FALSE(registry.remove(key, ref(0).conn_id)) << "still reachable through a sibling";
  EXPECT_EQ(registry.lookup(key).forwarder, 7u);

  EXPECT_FALSE(registry.remove_forwarder(key, 7));
  EXPECT_EQ(registry.lookup(key).forwarder, 9u) << "the fallback takes over";
  EXPECT_EQ(registry.stats().multiforwarder_deleted, 1u);
  EXPECT_FALSE(registry.remove_forwarder(key, 3)) << "a link that never announced it";
  EXPECT_EQ(registry.stats().forwarder_delete_other_value, 1u);
  EXPECT_TRUE(registry.remove_forwarder(key, 9)) << "the last route: gone from the region";
  EXPECT_EQ(registry.stats().total_keys, 0u);
}

TEST_F(RegistryFixture, ALinkThatDropsLosesExactlyItsOwnRoutes) {
  auto other = protocol::NodePrivate::generate().public_key();
  registry.add_forwarder(key, 1);
  registry.add_forwarder(other, 1);
  registry.add_forwarder(other, 2);
  auto gone = registry.remove_all_forwarders(1);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0], key);
  EXPECT_EQ(registry.lookup(other).forwarder, 2u);
  EXPECT_EQ(registry.forwarded_keys(1), 0u);
  EXPECT_EQ(registry.forwarded_keys(2), 1u);
}

server::PacketRef packet(std::uint8_t tag) {
  auto p = server::allocate_packet(server::PacketBuffer::kRecvPacketFrameOverhead + 1);
  p->data()[server::PacketBuffer::kRecvPacketFrameOverhead] = tag;
  return p;
}
std::uint8_t tag_of(const server::PacketRef& p) {
  return p->data()[server::PacketBuffer::kRecvPacketFrameOverhead];
}

// protocol §4.4: bounded FIFO; when full the oldest packet is handed back (a head drop).
TEST(SendQueue, HeadDropWhenFull) {
  server::SendQueue q(3);
  struct Step {
    std::optional<std::uint8_t> push;  // nullopt: pop
    std::optional<std::uint8_t> out;   // dropped (push) or popped (pop)
    std::size_t size;
  };
  const Step steps[] = {
      {1, std::nullopt, 1},
      {2, std::nullopt, 2},
      {3, std::nullopt, 3},
      {4, 1, 3},
      {std::nullopt, 2, 2},
      {5, std::nullopt, 3},
      {6, 3, 3},
      {std::nullopt, 4, 2},
      {std::nullopt, 5, 1},
      {std::nullopt, 6, 0},
  };
  for (const auto& s : steps) {
    server::PacketRef out = s.push ? q.push(packet(*s.push)) : q.pop();
    if (s.out) {
      ASSERT_TRUE(out);
      EXPECT_EQ(tag_of(out), *s.out);
    } else {
      EXPECT_FALSE(out);
    }
    EXPECT_EQ(q.size(), s.size);
  }
  EXPECT_TRUE(q.empty());
  q.release_if_empty();
  EXPECT_FALSE(q.push(packet(7))) << "usable again after releasing its storage";
}

}  // namespace
}  // namespace derp::testing
