// DerpClient::connect keeps its deadline through every step, including the WebSocket handshake
// (whose socket moves into the WebSocket stream): a server that accepts and then says nothing
// makes connect fail at the deadline, naming the step, instead of hanging.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "relay/client/derp_client.h"
#include "tests/support/async_runner.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// Accepts connections and reads nothing, answers nothing.
class SilentServer {
 public:
  SilentServer() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (!ec) held_ = std::move(s);
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~SilentServer() {
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      held_.close(ignored);
    });
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  tcp::socket held_{io_};
  std::thread thread_;
};

// How a connect ended, caught on the runner's thread: no exception crosses threads.
struct Outcome {
  bool connected = false;
  bool connect_error = false;
  bool dialled = false;
  std::string what;
};

Outcome try_connect(AsyncRunner& runner, const client::ClientOptions& o) {
  return runner.run(
      [&o]() -> asio::awaitable<Outcome> {
        auto ex = co_await asio::this_coro::executor;
        Outcome out;
        std::unique_ptr<client::DerpClient> c;
        try {
          c = co_await client::DerpClient::connect(ex, o);
        } catch (const client::ConnectError& e) {
          out.connect_error = true;
          out.dialled = e.dialled();
          out.what = e.what();
        } catch (const std::exception& e) {
          out.what = e.what();
        }
        out.connected = c != nullptr;
        co_return out;
      }(),
      std::chrono::seconds(10));
}

void expect_times_out(const std::string& scheme, const char* step) {
  SilentServer server;
  AsyncRunner runner;
  client::ClientOptions o;
  o.url = scheme + "://127.0.0.1:" + std::to_string(server.port()) + "/derp";
  o.key = protocol::NodePrivate::generate();
  o.timeout = std::chrono::milliseconds(300);
  const auto started = std::chrono::steady_clock::now();
  Outcome r = try_connect(runner, o);
  EXPECT_FALSE(r.connected) << o.url << " connected to a server that never answers";
  EXPECT_TRUE(r.connect_error) << r.what;
  EXPECT_NE(r.what.find(std::string("timed out during ") + step), std::string::npos) << r.what;
  EXPECT_TRUE(r.dialled) << "the TCP connect succeeded; this failed later";
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

TEST(ConnectDeadline, CoversTheWebSocketHandshake) {
  expect_times_out("ws", "WebSocket handshake");
}
TEST(ConnectDeadline, CoversTheDerpHandshake) {
  expect_times_out("http", "DERP handshake");
}
TEST(ConnectDeadline, CoversTheTlsHandshake) {
  expect_times_out("https", "TLS handshake");
}

// Nothing listens: the connect itself fails, and says so (Tailscale's client then tries the next
// node of its region).
TEST(ConnectDeadline, RefusedConnectIsNotDialled) {
  tcp::endpoint free;
  {
    asio::io_context io;
    tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    free = a.local_endpoint();
  }
  AsyncRunner runner;
  client::ClientOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(free.port()) + "/derp";
  o.key = protocol::NodePrivate::generate();
  Outcome r = try_connect(runner, o);
  EXPECT_FALSE(r.connected) << "connected to a closed port";
  EXPECT_TRUE(r.connect_error) << r.what;
  EXPECT_FALSE(r.dialled) << r.what;
}

}  // namespace
}  // namespace derp::testing
