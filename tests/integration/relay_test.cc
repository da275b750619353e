// A real derpd process relaying between real clients over plain HTTP, TLS and WebSocket.
#include <gtest/gtest.h>

#include <boost/asio/use_awaitable.hpp>

#include "relay/tls/test_ca.h"
#include "tests/support/async_runner.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using client::DerpClient;

struct Transport {
  const char* name;
  bool tls;
  bool websocket;
  bool fast_start;
};

class RelayOverTransport : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    std::vector<std::string> args{"-a", "127.0.0.1:0", "--stun=false", "-c", dir_.path() + "/key"};
    if (GetParam().tls) {
      pki_ = tls::write_test_pki(dir_.path(), {"127.0.0.1"});
      args.insert(args.end(), {"--certmode", "manual", "--hostname", "127.0.0.1", "--certdir",
                               dir_.path(), "--http-port", "-1"});
    }
    derpd_ = std::make_unique<DerpdProcess>(args);
  }
  std::string url() const {
    std::string u = derpd_->derp_url();
    if (GetParam().websocket) u.replace(0, u.find(':'), GetParam().tls ? "wss" : "ws");
    return u;
  }
  client::ClientOptions options(protocol::NodePrivate key = protocol::NodePrivate::generate()) {
    client::ClientOptions o;
    o.url = url();
    o.key = key;
    o.ca_file = pki_.ca_cert;
    o.fast_start = GetParam().fast_start;
    return o;
  }

  AsyncRunner runner_;
  TempDir dir_;
  tls::TestPki pki_;
  std::unique_ptr<DerpdProcess> derpd_;
};

TEST_P(RelayOverTransport, PacketsOfEverySizeArriveInOrder) {
  runner_.run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto a = co_await DerpClient::connect(ex, options());
    auto b = co_await DerpClient::connect(ex, options());
    EXPECT_EQ(a->used_fast_start(),
              GetParam().tls && GetParam().fast_start && !GetParam().websocket);
    // Over WebSocket our client, like Tailscale's, refuses messages over 32,768 bytes: a 32 KiB
    // packet (a 32,805-byte frame) and larger must reach it in several messages.
    const std::vector<std::size_t> sizes{0,    1,     2,     100,   1200,  1500,
                                         4096, 16384, 16385, 32768, 65535, 65536};
    std::uint32_t seq = 0;
    for (auto size : sizes) co_await a->send_packet(b->public_key(), numbered_packet(seq++, size));
    seq = 0;
    for (auto size : sizes) {
      auto p = co_await next_packet(*b);
      EXPECT_EQ(p.src, a->public_key());
      EXPECT_EQ(p.data, numbered_packet(seq++, size)) << "packet of " << size << " bytes";
    }
    // And back, to self as well.
    co_await b->send_packet(a->public_key(), numbered_packet(7, 64));
    EXPECT_EQ((co_await next_packet(*a)).data, numbered_packet(7, 64));
    co_await a->send_packet(a->public_key(), numbered_packet(8, 64));
    auto self = co_await next_packet(*a);
    EXPECT_EQ(self.src, a->public_key());
    EXPECT_EQ(self.data, numbered_packet(8, 64));
  }());
}

TEST_P(RelayOverTransport, ManyClientsExchangeWithoutLoss) {
  constexpr int kPairs = 20;
  constexpr int kPackets = 200;
  runner_.run(
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        std::vector<std::unique_ptr<DerpClient>> senders, receivers;
        for (int i = 0; i < kPairs; ++i) {
          senders.push_back(co_await DerpClient::connect(ex, options()));
          receivers.push_back(co_await DerpClient::connect(ex, options()));
        }
        for (int n = 0; n < kPackets; ++n) {
          for (int i = 0; i < kPairs; ++i) {
            senders[i]->queue_packet(receivers[i]->public_key(), numbered_packet(n, 300 + i));
          }
          // Stay within the server's 32-packet queue: flush in windows of 16.
          if (n % 16 == 15 || n == kPackets - 1) {
            for (auto& s : senders) co_await s->flush();
            for (int i = 0; i < kPairs; ++i) {
              for (int k = n - (n % 16); k <= n; ++k) {
                auto p = co_await next_packet(*receivers[i]);
                EXPECT_EQ(p.src, senders[i]->public_key());
                EXPECT_EQ(p.data, numbered_packet(k, 300 + i)) << "pair " << i << " packet " << k;
              }
            }
          }
        }
      }(),
      std::chrono::seconds(60));
}

TEST_P(RelayOverTransport, PingGetsPong) {
  runner_.run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto a = co_await DerpClient::connect(ex, options());
    protocol::PingData data{9, 8, 7, 6, 5, 4, 3, 2};
    co_await a->ping(data);
    auto m = co_await next_message(*a);
    auto* pong = std::get_if<client::Pong>(&m);
    EXPECT_TRUE(pong);
    if (pong) {
      EXPECT_EQ(pong->data, data);
    }
  }());
}

TEST(Listener, ASecondDerpdOnTheSamePortRefusesToStart) {
  TempDir dir;
  DerpdProcess first({"-a", "127.0.0.1:0", "--stun=false", "-c", dir.path() + "/a"});
  try {
    DerpdProcess second({"-a", "127.0.0.1:" + std::to_string(first.port()), "--stun=false", "-c",
                         dir.path() + "/b"});
    ADD_FAILURE() << "a second derpd started on port " << first.port();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("address already in use"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, RelayOverTransport,
                         ::testing::Values(Transport{"plain", false, false, false},
                                           Transport{"tls_fast_start", true, false, true},
                                           Transport{"tls_upgrade", true, false, false},
                                           Transport{"websocket", false, true, false},
                                           Transport{"websocket_tls", true, true, false}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace derp::testing
