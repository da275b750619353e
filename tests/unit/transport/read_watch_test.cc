// The read watch (relay/transport/read_watch.h) on real loopback sockets: armed once, it announces
// every later readiness edge (new data, the peer's FIN), and ends exactly once when the socket
// closes. These are the Boost reactor behaviours it relies on; a Boost that changed them fails
// here rather than in a relay that stops reading.
#include "relay/transport/read_watch.h"

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>

#include <gtest/gtest.h>

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

struct Counts {
  int readable = 0;
  int ended = 0;
};

struct CountingWatcher {
  Counts* counts;
  void readable() { ++counts->readable; }
  void ended() { ++counts->ended; }
};

class ReadWatch : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client_.connect(acceptor.local_endpoint());
    server_ = acceptor.accept();
  }
  // Runs the io_context until `done` holds; false after 5 s.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(10ms);
      io_.restart();
    }
    return true;
  }
  std::size_t drain_server() {
    char buf[256];
    std::size_t total = 0;
    for (;;) {
      ssize_t n = ::recv(server_.native_handle(), buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) return total;
      total += static_cast<std::size_t>(n);
    }
  }
  void send_from_client(const char* text) {
    boost::system::error_code ec;  // a peer that closed may reset: that is not this test's point
    asio::write(client_, asio::buffer(std::string(text)), ec);
  }

  asio::io_context io_{1};
  tcp::socket client_{io_};
  tcp::socket server_{io_};
  Counts counts_;
};

TEST_F(ReadWatch, ArmedOnceItAnnouncesEveryNewArrival) {
  transport::watch_readable(server_, CountingWatcher{&counts_});
  for (int i = 1; i <= 3; ++i) {
    send_from_client("ping");
    ASSERT_TRUE(run_until([&] { return counts_.readable >= i; })) << "arrival " << i;
    EXPECT_EQ(drain_server(), 4u);
  }
  EXPECT_EQ(counts_.ended, 0);
}

TEST_F(ReadWatch, DataQueuedBeforeArmingIsAnnounced) {
  send_from_client("early");
  // Let the bytes reach the server's socket before the watch exists.
  ASSERT_TRUE(run_until([&] {
    char c;
    return ::recv(server_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
  }));
  transport::watch_readable(server_, CountingWatcher{&counts_});
  EXPECT_TRUE(run_until([&] { return counts_.readable >= 1; }));
  EXPECT_EQ(drain_server(), 5u);
}

TEST_F(ReadWatch, ThePeersCloseIsAnnounced) {
  transport::watch_readable(server_, CountingWatcher{&counts_});
  client_.close();
  ASSERT_TRUE(run_until([&] { return counts_.readable >= 1; }));
  char c;
  EXPECT_EQ(::recv(server_.native_handle(), &c, 1, MSG_DONTWAIT), 0);  // end of stream
}

TEST_F(ReadWatch, ClosingTheSocketEndsTheWatchOnce) {
  transport::watch_readable(server_, CountingWatcher{&counts_});
  server_.close();
  ASSERT_TRUE(run_until([&] { return counts_.ended >= 1; }));
  send_from_client("late");  // the peer may still write; nothing is watching any more
  io_.restart();
  io_.run_for(50ms);  // time for a stray second completion to show up
  EXPECT_EQ(counts_.ended, 1);
  EXPECT_EQ(counts_.readable, 0);
}

TEST_F(ReadWatch, AClosedSocketEndsTheWatchAtOnce) {
  server_.close();
  transport::watch_readable(server_, CountingWatcher{&counts_});
  EXPECT_TRUE(run_until([&] { return counts_.ended == 1; }));
}

}  // namespace
}  // namespace derp::testing
