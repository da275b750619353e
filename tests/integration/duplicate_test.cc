// Two or more live connections with the same key (protocol §4.2, "last writer is active"): packets
// go to the active one only; any frame arriving on a dup connection makes it active; closing the
// active one hands delivery to the most recent remaining one in the history; the dup gauges.
#include <gtest/gtest.h>

#include <boost/asio/use_awaitable.hpp>

#include "tests/support/async_runner.h"
#include "tests/support/client_checks.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_text.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using client::DerpClient;

class DuplicateKeyTest : public ::testing::Test {
 protected:
  DuplicateKeyTest()
      : derpd_(
            {"-a", "127.0.0.1:0", "--stun=false", "--workers", "1", "-c", dir_.path() + "/key"}) {}

  template <class T>
  T run(asio::awaitable<T> task) {
    return runner_.run(std::move(task));
  }
  double dup_keys() { return varz(derpd_.port(), "derp_current_dup_client_keys"); }
  double dup_conns() { return varz(derpd_.port(), "derp_current_dup_client_conns"); }

  AsyncRunner runner_;
  TempDir dir_;
  DerpdProcess derpd_;
};

// `c` pings; its next message is the Pong. (Not an ordering marker for packets: the server may
// write a Pong ahead of packets already queued, so the tests below show that a packet did not
// reach a connection by checking that connection's *next packet* later.)
asio::awaitable<void> expect_pong_next(DerpClient& c, protocol::PingData data) {
  co_await c.ping(data);
  auto m = co_await next_message(c);
  auto* pong = std::get_if<client::Pong>(&m);
  if (!pong) throw std::runtime_error("expected a Pong, got " + describe(m));
  if (pong->data != data) throw std::runtime_error("Pong carries other bytes");
}

// `sender` sends numbered packet `seq` to `key`; the next message of `to` must be exactly it.
asio::awaitable<void> expect_delivered(DerpClient& sender, protocol::NodePublic key, DerpClient& to,
                                       std::uint32_t seq, std::size_t size) {
  const auto data = numbered_packet(seq, size);
  co_await sender.send_packet(key, data);
  auto m = co_await next_message(to);
  auto* p = std::get_if<client::RecvPacket>(&m);
  if (!p)
    throw std::runtime_error("expected packet " + std::to_string(seq) + ", got " + describe(m));
  if (p->src != sender.public_key() || p->data != data) {
    throw std::runtime_error("a different packet arrived instead of " + std::to_string(seq));
  }
}

TEST_F(DuplicateKeyTest, NewestIsActiveUntilTheOlderSpeaks) {
  auto key = protocol::NodePrivate::generate();
  std::unique_ptr<DerpClient> older, newer, sender;
  run([&]() -> asio::awaitable<void> {
    older = co_await connect_client(derpd_.derp_url(), key);
    newer = co_await connect_client(derpd_.derp_url(), key);
    sender = co_await connect_client(derpd_.derp_url());
  }());
  EXPECT_EQ(dup_keys(), 1);
  EXPECT_EQ(dup_conns(), 2);
  EXPECT_EQ(varz(derpd_.port(), "derp_total_dup_client_conns"), 1);

  const auto k = key.public_key();
  run([&]() -> asio::awaitable<void> {
    // Packets go to the newest connection.
    co_await expect_delivered(*sender, k, *newer, 1, 100);

    // The older one speaks (a Ping): it becomes active.
    const protocol::PingData ping1{1, 1, 1, 1, 1, 1, 1, 1};
    co_await expect_pong_next(*older, ping1);
    co_await expect_delivered(*sender, k, *older, 2, 100);
    // The newer one speaks and is active again. Had it received p2, p2 would come before p3.
    const protocol::PingData ping2{2, 2, 2, 2, 2, 2, 2, 2};
    co_await expect_pong_next(*newer, ping2);
    co_await expect_delivered(*sender, k, *newer, 3, 100);

    // The older speaks again and is active; then it closes: delivery moves back to the newer.
    const protocol::PingData ping3{3, 3, 3, 3, 3, 3, 3, 3};
    co_await expect_pong_next(*older, ping3);
    older->close();
    older.reset();
  }());
  ASSERT_TRUE(
      wait_varz(derpd_.port(), "derp_current_dup_client_keys", [](double v) { return v == 0; }));
  EXPECT_EQ(dup_conns(), 0);
  run([&]() -> asio::awaitable<void> { co_await expect_delivered(*sender, k, *newer, 4, 100); }());
}

// Three connections: closing the active one makes the most recent remaining entry of the
// history active (protocol §4.2), not merely "any other".
TEST_F(DuplicateKeyTest, ClosingTheActiveOneFallsBackToTheMostRecent) {
  auto key = protocol::NodePrivate::generate();
  std::unique_ptr<DerpClient> c1, c2, c3, sender;
  run([&]() -> asio::awaitable<void> {
    c1 = co_await connect_client(derpd_.derp_url(), key);
    c2 = co_await connect_client(derpd_.derp_url(), key);
    c3 = co_await connect_client(derpd_.derp_url(), key);
    sender = co_await connect_client(derpd_.derp_url());
  }());
  EXPECT_EQ(dup_keys(), 1);
  EXPECT_EQ(dup_conns(), 3);
  EXPECT_EQ(varz(derpd_.port(), "derp_total_dup_client_conns"), 2);
  const auto k = key.public_key();
  run([&]() -> asio::awaitable<void> {
    // History c1, c2, c3; c1 speaks: c1, c2, c3, c1.
    const protocol::PingData ping1{1, 2, 3, 4, 5, 6, 7, 8};
    co_await expect_pong_next(*c1, ping1);
    co_await expect_delivered(*sender, k, *c1, 1, 60);
    c1->close();
    c1.reset();
  }());
  ASSERT_TRUE(
      wait_varz(derpd_.port(), "derp_current_dup_client_conns", [](double v) { return v == 2; }));
  EXPECT_EQ(dup_keys(), 1);
  run([&]() -> asio::awaitable<void> {
    // History c2, c3: c3 is active.
    co_await expect_delivered(*sender, k, *c3, 2, 60);
    // c2 speaks and becomes active; had it received p2, p2 would come before p3.
    const protocol::PingData ping2{9, 9, 9, 9, 9, 9, 9, 9};
    co_await expect_pong_next(*c2, ping2);
    co_await expect_delivered(*sender, k, *c2, 3, 60);
  }());
}

// Spec §4.2: "Whenever **any** frame arrives on a dup connection, that connection becomes the
// active one" — unknown frame types included (the reference calls noteClientActivity before its
// frame switch). Here the older connection sends a Pong (type 0x13, which a server treats as
// unknown, §2.3.1), as a client answering a server ping would.
//
// Ordering: the Pong frame is written (and sits in the server's socket buffer) before the sender's
// Ping is even sent, and the single worker handles the two sockets' reads in arrival order; the
// reply to the sender's Ping then shows the server has read past that point.
TEST_F(DuplicateKeyTest, AnUnknownFrameAlsoMakesTheConnectionActive) {
  auto key = protocol::NodePrivate::generate();
  std::unique_ptr<DerpClient> older, newer, sender;
  run([&]() -> asio::awaitable<void> {
    older = co_await connect_client(derpd_.derp_url(), key);
    newer = co_await connect_client(derpd_.derp_url(), key);
    sender = co_await connect_client(derpd_.derp_url());
  }());
  const auto k = key.public_key();
  run([&]() -> asio::awaitable<void> {
    co_await expect_delivered(*sender, k, *newer, 1, 100);

    const protocol::PingData pong_data{4, 4, 4, 4, 4, 4, 4, 4};
    co_await older->pong(pong_data);
    const protocol::PingData barrier{5, 5, 5, 5, 5, 5, 5, 5};
    co_await expect_pong_next(*sender, barrier);

    const auto p2 = numbered_packet(2, 100);
    co_await sender->send_packet(k, p2);
    const std::chrono::milliseconds limit(3000);
    auto m = co_await receive_within(*older, limit);
    EXPECT_TRUE(m) << "the older connection did not get the packet: it is not active";
    if (m) {
      auto* p = std::get_if<client::RecvPacket>(&*m);
      EXPECT_TRUE(p) << describe(*m);
      if (p) {
        EXPECT_EQ(p->data, p2);
      }
    }
  }());
}

}  // namespace
}  // namespace derp::testing
