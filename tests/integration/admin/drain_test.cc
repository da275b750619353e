// Draining one node with 50 connected clients: the node stops accepting at TCP (so a connect is
// refused, which is what makes Tailscale's clients try the next node), every client gets
// Restarting and then a clean end of stream, in batches, before the deadline; gRPC health flips
// to not-serving; undrain listens again. region_drain_test.cc drains nodes of whole regions.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/integration/admin/admin_node.h"
#include "tests/integration/admin/health_check.h"
#include "tests/support/async_runner.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/http_get.h"
#include "tests/support/raw_socket.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using client::DerpClient;
using nlohmann::json;
namespace health = grpc::health::v1;

struct Seen {
  std::atomic<bool> restarting{false};
  std::atomic<bool> closed{false};
  std::atomic<bool> closed_after_restarting{false};
  std::atomic<std::uint32_t> reconnect_in{0}, try_for{0};
};

asio::awaitable<void> read_until_closed(DerpClient& c, Seen& seen, std::string& ending) {
  try {
    for (;;) {
      auto m = co_await c.receive();
      if (auto* r = std::get_if<client::Restarting>(&m)) {
        seen.reconnect_in = r->hint.reconnect_in_ms;
        seen.try_for = r->hint.try_for_ms;
        seen.restarting = true;
      }
    }
  } catch (const std::exception& e) {
    ending = e.what();
  }
  seen.closed_after_restarting = seen.restarting.load();
  seen.closed = true;
}

bool can_connect(AsyncRunner& runner, const std::string& url, std::string* error) {
  try {
    auto c = runner.run(connect_client(url));
    c->close();
    return true;
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

TEST(AdminDrain, FiftyClientsInBatchesOfTen) {
  AdminNode node;
  AsyncRunner runner;
  constexpr int kClients = 50;
  std::vector<std::unique_ptr<DerpClient>> clients;
  std::vector<std::unique_ptr<Seen>> seen;
  std::vector<std::future<void>> readers;
  std::vector<std::string> endings(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(runner.run(connect_client(node.derpd->derp_url())));
    seen.push_back(std::make_unique<Seen>());
  }
  for (int i = 0; i < kClients; ++i)
    readers.push_back(runner.spawn(read_until_closed(*clients[i], *seen[i], endings[i])));
  ASSERT_EQ(http_status(node.derpd->port(), "/derp/probe"), 200);
  ASSERT_EQ(health_of(node.admin()), health::HealthCheckResponse::SERVING);

  const auto deadline = std::chrono::seconds(20);
  auto started = std::chrono::steady_clock::now();
  DerpctlProcess drain({"--admin", node.admin(), "-o", "jsonl", "drain", "--deadline", "20s",
                        "--batch", "10", "--interval", "100ms"});
  // From the first progress line on, nothing listens: connects are refused.
  auto first = drain.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(first);
  EXPECT_TRUE(connect_refused(node.derpd->port()));
  auto result = drain.wait(std::chrono::seconds(30));
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_LT(took, deadline);

  // jsonl: one progress object per line, the last one drained with every client closed.
  std::string last_line = *first;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) last_line = line;
  }
  auto last = json::parse(last_line);
  EXPECT_EQ(last["status"]["state"], "DRAIN_STATE_DRAINED");
  EXPECT_EQ(last["status"]["closed"], std::to_string(kClients));  // uint64 → JSON string
  EXPECT_EQ(last["status"]["remaining"], "0");

  for (auto& r : readers)
    ASSERT_EQ(r.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  int restarting = 0, in_order = 0;
  for (auto& s : seen) {
    EXPECT_TRUE(s->closed);
    restarting += s->restarting ? 1 : 0;
    in_order += s->closed_after_restarting ? 1 : 0;
    EXPECT_EQ(s->reconnect_in.load(), 0u) << "nobody is asked to wait";
    if (s->restarting) {
      EXPECT_EQ(s->try_for.load(), 10000u);
    }
  }
  EXPECT_EQ(restarting, kClients);
  EXPECT_EQ(in_order, kClients) << "Restarting arrives before the connection closes";
  for (const auto& e : endings) {
    EXPECT_NE(e.find("End of file"), std::string::npos) << "a clean end of stream, not " << e;
  }

  EXPECT_TRUE(connect_refused(node.derpd->port()));
  EXPECT_EQ(health_of(node.admin()), health::HealthCheckResponse::NOT_SERVING);
  std::string error;
  EXPECT_FALSE(can_connect(runner, node.derpd->derp_url(), &error));
  EXPECT_NE(error.find("during connect"), std::string::npos) << error;
  auto status = node.ctl({"-o", "json", "status"});
  ASSERT_EQ(status.exit_code, 0);
  EXPECT_EQ(json::parse(status.out)["drain"]["state"], "DRAIN_STATE_DRAINED");
  EXPECT_EQ(json::parse(status.out)["serving"], false);
  // Draining a drained node again is harmless: it reports drained at once.
  auto again = node.ctl({"drain"});
  EXPECT_EQ(again.exit_code, 0) << again.err;

  auto undrain = node.ctl({"undrain"});
  ASSERT_EQ(undrain.exit_code, 0) << undrain.err;
  EXPECT_EQ(http_status(node.derpd->port(), "/derp/probe"), 200);
  EXPECT_EQ(health_of(node.admin()), health::HealthCheckResponse::SERVING);
  EXPECT_TRUE(can_connect(runner, node.derpd->derp_url(), &error)) << error;
}

TEST(AdminDrain, NoWaitReturnsAtOnceAndUndrainCancels) {
  AdminNode node;
  AsyncRunner runner;
  auto a = runner.run(connect_client(node.derpd->derp_url()));
  auto b = runner.run(connect_client(node.derpd->derp_url()));
  auto listed = [&] {
    auto clients = node.ctl({"-o", "json", "clients"});
    return clients.exit_code == 0 ? json::parse(clients.out).size() : 99u;
  };
  auto r =
      node.ctl({"drain", "--deadline", "5m", "--batch", "1", "--interval", "30s", "--no-wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("drain started"), std::string::npos) << r.out;
  auto status = node.ctl({"-o", "json", "status"});
  EXPECT_EQ(json::parse(status.out)["drain"]["state"], "DRAIN_STATE_DRAINING");
  // The first batch (one client) leaves at once; the next would come 30 s later.
  EXPECT_TRUE(eventually([&] { return listed() == 1u; }));
  auto u = node.ctl({"undrain"});
  ASSERT_EQ(u.exit_code, 0) << u.err;
  EXPECT_EQ(http_status(node.derpd->port(), "/derp/probe"), 200);
  EXPECT_EQ(listed(), 1u) << "undrain stops the batches; the client that stayed stays";
}

// Undrain binds the port again; when another process took it meanwhile, it says so and the node
// stays drained.
TEST(AdminDrain, UndrainSaysWhenThePortWasTaken) {
  AdminNode node;
  auto d = node.ctl({"drain", "--deadline", "10s"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  ASSERT_TRUE(connect_refused(node.derpd->port()));
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor squatter(
      io, {boost::asio::ip::make_address("127.0.0.1"), node.derpd->port()});
  auto u = node.ctl({"undrain"});
  EXPECT_NE(u.exit_code, 0);
  EXPECT_NE(u.err.find("address already in use"), std::string::npos) << u.err;
  auto status = node.ctl({"-o", "json", "status"});
  EXPECT_EQ(json::parse(status.out)["drain"]["state"], "DRAIN_STATE_DRAINED");
  squatter.close();
  auto again = node.ctl({"undrain"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(http_status(node.derpd->port(), "/derp/probe"), 200);
}

// A client often closes while it is sending (it read the end of the stream between two packets),
// and then its last bytes and its FIN reach the node in one segment: one readiness edge, read as a
// short read. A node that took that short read for an empty socket never saw the FIN, and the
// leaving session held the drain (and a SIGTERM exit) for its whole linger
// (ClientSession::kLeaveLinger, 3 s). TCP_CORK makes the client's kernel send the frame and the
// FIN as one segment, every time.
TEST(AdminDrain, AClientClosingWithItsLastBytesLeavesAtOnce) {
  AdminNode node;
  RawSocket s(node.derpd->port());
  ASSERT_NO_THROW(raw_handshake(s, protocol::NodePrivate::generate()));
  DerpctlProcess drain({"--admin", node.admin(), "-o", "json", "drain", "--deadline", "60s"});
  ASSERT_EQ(s.wait_closed(std::chrono::seconds(10)), RawSocket::Status::kClosed)
      << "the node ends the stream of a client it drains";
  const auto client_closed = std::chrono::steady_clock::now();
  int one = 1;
  ASSERT_EQ(::setsockopt(s.fd(), IPPROTO_TCP, TCP_CORK, &one, sizeof one), 0);
  // NotePreferred: a frame the node does not answer (an answer would fail to write and end the
  // session by itself).
  const std::uint8_t preferred = 1;
  ASSERT_TRUE(s.send_all(frame_bytes(static_cast<std::uint8_t>(protocol::FrameType::kNotePreferred),
                                     {&preferred, 1})));
  ASSERT_EQ(::shutdown(s.fd(), SHUT_WR), 0);

  auto result = drain.wait(std::chrono::seconds(30));
  const auto took = std::chrono::steady_clock::now() - client_closed;
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(json::parse(result.out, nullptr, false)["status"]["state"], "DRAIN_STATE_DRAINED")
      << result.out;
  EXPECT_LT(took, std::chrono::seconds(2))
      << "the node saw the FIN only when the linger ran out (3 s): it missed it";
}

}  // namespace
}  // namespace derp::testing
