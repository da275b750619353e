// The STUN server on real loopback sockets: replies, drops, counters, the drain switch, binding.
#include <gtest/gtest.h>

#include <system_error>

#include "stun/stun_server.h"
#include "tests/unit/stun/stun_test_support.h"

namespace derp::stun {
namespace {

using testing::eventually;
using testing::make_txid;
using testing::UdpClient;
using testing::WorkerThreads;

struct ServerCase {
  const char* bind_host;    // StunConfig::host
  const char* client_host;  // where the test client sends
  int workers;
};

std::string case_name(const ::testing::TestParamInfo<ServerCase>& info) {
  std::string name = info.param.bind_host;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name + "_" + std::to_string(info.param.workers) + "w";
}

class StunServerTest : public ::testing::TestWithParam<ServerCase> {
 protected:
  void start(bool answer_generic = true) {
    workers_ = std::make_unique<WorkerThreads>(GetParam().workers);
    server_ = std::make_unique<StunServer>(workers_->pointers(),
                                           StunConfig{GetParam().bind_host, 0, answer_generic});
    server_->start();
    ASSERT_NE(server_->local_port(), 0);
  }
  void TearDown() override {
    server_.reset();
    workers_.reset();
  }
  std::unique_ptr<UdpClient> client() {
    return std::make_unique<UdpClient>(GetParam().client_host, server_->local_port());
  }
  // Sends `datagram`, which must get no reply, then a valid request, whose reply must be the
  // first thing to arrive (one client socket always reaches the same worker, in order).
  void expect_no_reply(UdpClient& c, Bytes datagram, std::uint8_t seed) {
    c.send(datagram);
    const TxId probe = make_txid(seed);
    c.send(make_tailscale_request(probe));
    const auto reply = c.receive();
    ASSERT_TRUE(reply) << "no reply to the probe request";
    const auto parsed = parse_binding_response(*reply);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->txid, probe) << "the dropped datagram was answered";
  }

  std::unique_ptr<WorkerThreads> workers_;
  std::unique_ptr<StunServer> server_;
};

TEST_P(StunServerTest, AnswersTailscaleFormWithExactBytes) {
  start();
  auto c = client();
  const TxId txid = make_txid(1);
  c->send(make_tailscale_request(txid));
  const auto reply = c->receive();
  ASSERT_TRUE(reply);
  const Endpoint me = c->local_endpoint();
  std::array<std::uint8_t, kMaxResponseSize> expected{};
  const std::size_t n = write_binding_response(txid, me, expected);
  EXPECT_EQ(*reply, std::vector<std::uint8_t>(expected.begin(), expected.begin() + n));
  EXPECT_EQ(reply->size(), me.is_v6 ? kResponseSizeV6 : kResponseSizeV4);
  const auto parsed = parse_binding_response(*reply);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->mapped, me);

  ASSERT_TRUE(eventually([&] { return server_->counters().success == 1; }));
  const StunCounters k = server_->counters();
  EXPECT_EQ(k.answered_tailscale, 1u);
  EXPECT_EQ(k.not_stun, 0u);
  EXPECT_EQ(me.is_v6 ? k.ipv6 : k.ipv4, 1u);
}

TEST_P(StunServerTest, AnswersGenericForm) {
  start();
  auto c = client();
  const TxId txid = make_txid(2);
  c->send(make_generic_request(txid));
  const auto reply = c->receive();
  ASSERT_TRUE(reply);
  const auto parsed = parse_binding_response(*reply);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->txid, txid);
  EXPECT_EQ(parsed->mapped, c->local_endpoint());
  ASSERT_TRUE(eventually([&] { return server_->counters().answered_generic == 1; }));
}

TEST_P(StunServerTest, GenericFormIgnoredWhenDisabled) {
  start(/*answer_generic=*/false);
  auto c = client();
  expect_no_reply(*c, make_generic_request(make_txid(3)), 4);
  ASSERT_TRUE(eventually(
      [&] { return server_->counters().dropped_for(DropReason::kGenericDisabled) == 1; }));
  EXPECT_EQ(server_->counters().not_stun, 1u);
}

TEST_P(StunServerTest, DropsMalformedAndCountsByReason) {
  start();
  auto c = client();
  auto tailscale = make_tailscale_request(make_txid(5));
  auto bad_fp = tailscale;
  bad_fp[39] ^= 1;
  auto bad_cookie = tailscale;
  bad_cookie[4] = 0;
  auto response = make_generic_request(make_txid(6));
  response[1] = 0x01;
  response[0] = 0x01;  // Binding success, as a reflection attack would send
  const std::vector<std::uint8_t> shorty(tailscale.begin(), tailscale.begin() + 12);
  const std::vector<std::uint8_t> overrun(tailscale.begin(), tailscale.begin() + 30);
  const std::vector<std::uint8_t> huge(3000, 0);

  expect_no_reply(*c, bad_fp, 10);
  expect_no_reply(*c, bad_cookie, 11);
  expect_no_reply(*c, response, 12);
  expect_no_reply(*c, shorty, 13);
  expect_no_reply(*c, overrun, 14);
  expect_no_reply(*c, huge, 15);

  ASSERT_TRUE(eventually([&] { return server_->counters().success == 6; }));
  const StunCounters k = server_->counters();
  EXPECT_EQ(k.not_stun, 6u);
  EXPECT_EQ(k.dropped_for(DropReason::kBadFingerprint), 1u);
  EXPECT_EQ(k.dropped_for(DropReason::kBadCookie), 1u);
  EXPECT_EQ(k.dropped_for(DropReason::kNotBindingRequest), 1u);
  EXPECT_EQ(k.dropped_for(DropReason::kShort), 1u);
  EXPECT_EQ(k.dropped_for(DropReason::kAttributeOverrun), 1u);
  EXPECT_EQ(k.dropped_for(DropReason::kTruncated), 1u);
}

TEST_P(StunServerTest, DrainSwitchStopsReplies) {
  start();
  auto c = client();
  server_->set_replies_enabled(false);
  EXPECT_FALSE(server_->replies_enabled());
  c->send(make_tailscale_request(make_txid(20)));
  ASSERT_TRUE(
      eventually([&] { return server_->counters().dropped_for(DropReason::kDraining) == 1; }));
  server_->set_replies_enabled(true);
  const TxId txid = make_txid(21);
  c->send(make_tailscale_request(txid));
  const auto reply = c->receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ(parse_binding_response(*reply)->txid, txid) << "a request was answered while draining";
  ASSERT_TRUE(eventually([&] { return server_->counters().success == 1; }));
  // Draining is not a malformed request.
  EXPECT_EQ(server_->counters().not_stun, 0u);
}

TEST_P(StunServerTest, ManyClientsAcrossWorkers) {
  start();
  constexpr int kClients = 32;
  std::vector<std::unique_ptr<UdpClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(client());
    clients.back()->send(make_tailscale_request(make_txid(static_cast<std::uint8_t>(100 + i))));
  }
  for (int i = 0; i < kClients; ++i) {
    const auto reply = clients[i]->receive();
    ASSERT_TRUE(reply) << "client " << i;
    const auto parsed = parse_binding_response(*reply);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->txid, make_txid(static_cast<std::uint8_t>(100 + i)));
    EXPECT_EQ(parsed->mapped, clients[i]->local_endpoint());
  }
  ASSERT_TRUE(eventually([&] { return server_->counters().success == kClients; }));
}

TEST_P(StunServerTest, ExportsCounters) {
  start();
  auto c = client();
  c->send(make_tailscale_request(make_txid(30)));
  ASSERT_TRUE(c->receive());
  ASSERT_TRUE(eventually([&] { return server_->counters().success == 1; }));
  const std::string family = c->local_endpoint().is_v6 ? "ipv6" : "ipv4";
  const std::string text = server_->prometheus_text();
  EXPECT_NE(text.find("stun_requests{disposition=\"success\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("stun_addrfamily{family=\"" + family + "\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(server_->expvar()["counter_requests"]["success"], 1);
  EXPECT_EQ(server_->expvar()["counter_addrfamily"][family], 1);
}

TEST_P(StunServerTest, StopReleasesThePort) {
  start();
  const std::uint16_t port = server_->local_port();
  server_->stop();
  server_->stop();  // idempotent
  // A socket without SO_REUSEPORT can only bind once every worker socket is closed.
  WorkerThreads other(1);
  StunServer again(other.pointers(), StunConfig{GetParam().bind_host, port, true});
  EXPECT_NO_THROW(again.start());
}

INSTANTIATE_TEST_SUITE_P(Loopback, StunServerTest,
                         ::testing::Values(ServerCase{"127.0.0.1", "127.0.0.1", 1},
                                           ServerCase{"127.0.0.1", "127.0.0.1", 2},
                                           ServerCase{"::1", "::1", 1},
                                           ServerCase{"[::1]", "::1", 2},
                                           // An IPv4 client on a dual-stack IPv6 socket: the
                                           // source is ::ffff:127.0.0.1, answered as family 1.
                                           ServerCase{"::ffff:127.0.0.1", "127.0.0.1", 1},
                                           ServerCase{"::ffff:127.0.0.1", "127.0.0.1", 2}),
                         case_name);

TEST(StunServerBind, PortHeldByAnotherSocketIsAClearError) {
  WorkerThreads workers(2);
  StunServer first(workers.pointers(), StunConfig{"127.0.0.1", 0, true});
  first.start();
  // A second server must not silently join the first one's SO_REUSEPORT group.
  StunServer second(workers.pointers(), StunConfig{"127.0.0.1", first.local_port(), true});
  try {
    second.start();
    FAIL() << "second bind succeeded";
  } catch (const std::system_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("stun: cannot bind udp 127.0.0.1:" + std::to_string(first.local_port())),
              std::string::npos)
        << what;
    EXPECT_EQ(e.code(), std::errc::address_in_use) << what;
  }
}

TEST(StunServerBind, NonLiteralHostIsRejected) {
  WorkerThreads workers(1);
  StunServer server(workers.pointers(), StunConfig{"localhost", 0, true});
  EXPECT_THROW(server.start(), std::invalid_argument);
}

TEST(StunServerBind, BracketedIpv6FormatsInErrors) {
  WorkerThreads workers(1);
  StunServer first(workers.pointers(), StunConfig{"::1", 0, true});
  first.start();
  StunServer second(workers.pointers(), StunConfig{"[::1]", first.local_port(), true});
  try {
    second.start();
    FAIL() << "second bind succeeded";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("stun: cannot bind udp [::1]:"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace derp::stun
