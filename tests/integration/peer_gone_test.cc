// PeerGone scoping (protocol §4.5): when a client leaves, only the connections that were written a
// packet from it get PeerGone(key, Disconnected), in the 33-byte form (§2.3.1).
//
// Direction matters. The reference (derp_server.go notePeerSendLocked / sentTo[src][dst]) and the
// spec subscribe the *receiver* D of a packet from S to "S gone". So here B sends to A (A must hear
// that B is gone), while C only sends to B and never receives from it (C must hear nothing).
#include <gtest/gtest.h>

#include <boost/asio/use_awaitable.hpp>

#include "tests/support/async_runner.h"
#include "tests/support/client_checks.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/raw_socket.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using client::DerpClient;

class PeerGoneTest : public ::testing::Test {
 protected:
  // One worker, so the order of events across connections is deterministic.
  PeerGoneTest()
      : derpd_(
            {"-a", "127.0.0.1:0", "--stun=false", "--workers", "1", "-c", dir_.path() + "/key"}) {}

  AsyncRunner runner_;
  TempDir dir_;
  DerpdProcess derpd_;
};

TEST_F(PeerGoneTest, OnlyReceiversOfTheGonePeerAreTold) {
  std::unique_ptr<DerpClient> b, c;
  runner_.run([&]() -> asio::awaitable<void> {
    b = co_await connect_client(derpd_.derp_url());
    c = co_await connect_client(derpd_.derp_url());
  }());
  // A is a raw connection so that the exact bytes of the PeerGone frame are visible.
  auto a_key = protocol::NodePrivate::generate();
  const auto a_pub = a_key.public_key();
  RawSocket a(derpd_.port());
  raw_handshake(a, a_key);

  const auto b_pub = b->public_key();
  const auto c_pub = c->public_key();
  runner_.run([&]() -> asio::awaitable<void> {
    // B → A: A is now subscribed to "B gone".
    const auto to_a = numbered_packet(1, 64);
    co_await b->send_packet(a_pub, to_a);
    // C → B: C is a sender to B, never a receiver of B's packets.
    co_await expect_relay(*c, *b, 2);
  }());
  auto first = a.read_non_keepalive();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->type, 0x05);
  std::vector<std::uint8_t> expected_recv(b_pub.bytes.begin(), b_pub.bytes.end());
  const auto p1 = numbered_packet(1, 64);
  expected_recv.insert(expected_recv.end(), p1.begin(), p1.end());
  EXPECT_EQ(first->payload, expected_recv);

  runner_.run([&]() -> asio::awaitable<void> {
    b->close();
    b.reset();
    co_return;
  }());

  // A: PeerGone(B, Disconnected), 33 bytes: B's key then reason 0x00.
  auto gone = a.read_non_keepalive();
  ASSERT_TRUE(gone) << "A was not told that B is gone";
  EXPECT_EQ(gone->type, 0x08);
  std::vector<std::uint8_t> expected_gone(b_pub.bytes.begin(), b_pub.bytes.end());
  expected_gone.push_back(0x00);
  EXPECT_EQ(gone->payload, expected_gone);

  // C: nothing. A marker sent by A after A saw the PeerGone must be C's next message.
  const auto marker = numbered_packet(99, 40);
  std::vector<std::uint8_t> frame;
  protocol::append_send_packet(frame, c_pub, marker);
  ASSERT_TRUE(a.send_all(frame));
  runner_.run([&]() -> asio::awaitable<void> {
    auto m = co_await next_message(*c);
    auto* p = std::get_if<client::RecvPacket>(&m);
    EXPECT_TRUE(p) << "C got " << describe(m) << " instead of the marker (a stray PeerGone?)";
    if (p) {
      EXPECT_EQ(p->src, a_pub);
      EXPECT_EQ(p->data, marker);
    }
  }());
}

// A PeerGone is sent once per subscription: after B reconnects and leaves again without sending
// to A, A hears nothing more.
TEST_F(PeerGoneTest, SubscriptionIsClearedAfterThePeerGone) {
  auto b_key = protocol::NodePrivate::generate();
  std::unique_ptr<DerpClient> a, b, m;
  runner_.run([&]() -> asio::awaitable<void> {
    a = co_await connect_client(derpd_.derp_url());
    b = co_await connect_client(derpd_.derp_url(), b_key);
    m = co_await connect_client(derpd_.derp_url());
    co_await expect_relay(*b, *a, 1);
    b->close();
    b.reset();
    auto gone = co_await next_message(*a);
    auto* g = std::get_if<client::PeerGone>(&gone);
    EXPECT_TRUE(g) << describe(gone);
    if (g) {
      EXPECT_EQ(g->key, b_key.public_key());
      EXPECT_EQ(g->reason, protocol::PeerGoneReason::kDisconnected);
    }
    // B comes back and leaves without sending to A.
    b = co_await connect_client(derpd_.derp_url(), b_key);
    co_await expect_relay(*b, *m, 2);
    b->close();
    b.reset();
    // M was written a packet from B: M hears of it; that is the ordering marker for A.
    auto m_gone = co_await next_message(*m);
    EXPECT_TRUE(std::holds_alternative<client::PeerGone>(m_gone)) << describe(m_gone);
    co_await expect_marker(*m, *a, 3);
  }());
}

}  // namespace
}  // namespace derp::testing
