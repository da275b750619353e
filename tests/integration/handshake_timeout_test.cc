// Handshake deadline (protocol §2.4, §4.8): a client that upgrades and then sends nothing is closed
// about 10 s later without any frame after ServerKey, while other clients keep relaying.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
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

struct RelayStats {
  int round_trips = 0;
  std::chrono::milliseconds slowest{0};
};

// X → Y → X round trips, paced (the timer only sets the rate, it synchronises nothing), until
// `stop` is set. Every packet must come back in order.
asio::awaitable<RelayStats> relay_until(DerpClient& x, DerpClient& y, std::atomic<bool>& stop) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer pace(ex);
  RelayStats stats;
  std::uint32_t seq = 0;
  while (!stop.load()) {
    auto start = std::chrono::steady_clock::now();
    co_await expect_relay(x, y, seq);
    co_await expect_relay(y, x, seq);
    ++seq;
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    stats.slowest = std::max(stats.slowest, took);
    ++stats.round_trips;
    pace.expires_after(std::chrono::milliseconds(50));
    co_await pace.async_wait(asio::use_awaitable);
  }
  co_return stats;
}

TEST(HandshakeTimeout, SilentClientIsClosedAfterTenSecondsOthersUnaffected) {
  AsyncRunner runner;
  TempDir dir;
  DerpdProcess derpd({"-a", "127.0.0.1:0", "--stun=false", "-c", dir.path() + "/key"});
  std::unique_ptr<DerpClient> x, y;
  runner.run([&]() -> asio::awaitable<void> {
    x = co_await connect_client(derpd.derp_url());
    y = co_await connect_client(derpd.derp_url());
  }());

  auto start = std::chrono::steady_clock::now();
  RawSocket silent(derpd.port());
  raw_upgrade(silent);  // 101 + ServerKey; then nothing from us

  std::atomic<bool> stop{false};
  auto relay = runner.spawn(relay_until(*x, *y, stop));

  std::size_t extra_bytes = 0;
  auto status = silent.wait_closed(std::chrono::seconds(20), &extra_bytes);
  auto elapsed = std::chrono::steady_clock::now() - start;
  stop = true;
  RelayStats stats = relay.get();

  EXPECT_EQ(status, RawSocket::Status::kClosed) << "the silent client was never closed";
  EXPECT_EQ(extra_bytes, 0u) << "the server sent something after ServerKey";
  EXPECT_GE(elapsed, std::chrono::seconds(9));
  EXPECT_LE(elapsed, std::chrono::seconds(13));
  EXPECT_GE(stats.round_trips, 50) << "other clients did not relay during the wait";
  EXPECT_LT(stats.slowest, std::chrono::milliseconds(1000));

  // And they still do afterwards.
  runner.run([&]() -> asio::awaitable<void> {
    co_await expect_relay(*x, *y, 100000);
    x.reset();
    y.reset();
  }());
}

}  // namespace
}  // namespace derp::testing
