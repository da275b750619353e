// Strangers' request headers: a header over 16 KiB or 100 fields gets 431 and a closed connection,
// and what an unauthenticated connection can make the node hold in the header phase stays bounded
// (Beast's own limit let a burst of tiny fields cost the node ~1.6 MB per connection).
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/async_runner.h"
#include "tests/support/bystanders.h"
#include "tests/support/client_checks.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/proc_status.h"
#include "tests/support/raw_socket.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using client::DerpClient;

// Established connections to `port` whose bytes the server has not read yet, from
// /proc/net/tcp (server side: local port == `port`): {connections, unread bytes}.
std::pair<int, long long> server_side_unread(std::uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  int connections = 0;
  long long unread = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string slot, local, remote, state, queues;
    f >> slot >> local >> remote >> state >> queues;
    if (state != "01") continue;  // ESTABLISHED
    if (std::stoul(local.substr(local.find(':') + 1), nullptr, 16) != port) continue;
    ++connections;
    unread += std::stoll(queues.substr(queues.find(':') + 1), nullptr, 16);
  }
  return {connections, unread};
}

class HeaderFlood : public ::testing::Test {
 protected:
  HeaderFlood()
      : derpd_({"-a", "127.0.0.1:0", "--stun=false", "-c", dir_.path() + "/key"}),
        bystanders_(runner_, derpd_.derp_url()) {}

  void expect_bystanders_unaffected() { bystanders_.expect_unaffected(); }

  AsyncRunner runner_;
  TempDir dir_;
  DerpdProcess derpd_;
  Bystanders bystanders_;
};

TEST_F(HeaderFlood, TinyFieldBurstsGet431AndCostLittle) {
  constexpr int kConnections = 300;
  // A complete request of ~20,000 tiny fields in one write: it arrives in large reads, which is
  // what slipped past Beast's per-read limit (the old front answered it 204).
  std::string burst = "GET /generate_204 HTTP/1.1\r\nHost: derp.example.com\r\n";
  while (burst.size() < 78 * 1024) burst += "a:\r\n";
  burst += "\r\n";

  const long long rss_before = rss_bytes(derpd_.pid());
  std::vector<std::unique_ptr<RawSocket>> attackers;
  for (int i = 0; i < kConnections; ++i) {
    attackers.push_back(std::make_unique<RawSocket>(derpd_.port()));
    attackers.back()->send_all(burst);  // the server may stop reading early: that is fine
  }
  int refused = 0;
  for (auto& a : attackers) {
    auto head = a->read_http_head(std::chrono::seconds(10));
    if (head && head->rfind("HTTP/1.1 431", 0) == 0) ++refused;
  }
  const long long peak = proc_status_bytes(derpd_.pid(), "VmHWM");
  attackers.clear();
  EXPECT_EQ(refused, kConnections);
  EXPECT_EQ(varz_value(derpd_.port(), "derp_http_headers_refused"), kConnections);
  const long long per_connection = (peak - rss_before) / kConnections;
  std::cout << "tiny-field burst: " << kConnections << " connections of " << burst.size()
            << " header bytes; peak RSS " << peak << " bytes (+" << per_connection
            << " per connection)\n";
  // The old limit held ~1.6 MB per connection here.
  EXPECT_LT(per_connection, 64 * 1024);
  expect_bystanders_unaffected();
}

TEST_F(HeaderFlood, AnUnfinishedHeaderCostsAboutItsBytes) {
  constexpr int kConnections = 200;
  // 15,000 bytes in 90 fields: under both limits, and never finished (a slowloris that stops
  // just short of the blank line).
  std::string partial = "GET /derp HTTP/1.1\r\n";
  for (int i = 0; partial.size() < 15000 - 170; ++i) {
    partial += "X-Pad-" + std::to_string(i) + ": " + std::string(150, 'p') + "\r\n";
  }
  const long long rss_before = rss_bytes(derpd_.pid());
  std::vector<std::unique_ptr<RawSocket>> held;
  for (int i = 0; i < kConnections; ++i) {
    held.push_back(std::make_unique<RawSocket>(derpd_.port()));
    ASSERT_TRUE(held.back()->send_all(partial));
  }
  // Measured once the node has read every byte (2 bystanders + the held connections).
  ASSERT_TRUE(eventually([&] {
    auto [connections, unread] = server_side_unread(derpd_.port());
    return connections == kConnections + 2 && unread == 0;
  }));
  const long long rss_held = rss_bytes(derpd_.pid());
  const long long per_connection = (rss_held - rss_before) / kConnections;
  std::cout << "unfinished headers: " << kConnections << " connections holding " << partial.size()
            << " header bytes each; RSS +" << per_connection << " bytes per connection\n";
  EXPECT_LT(per_connection, 48 * 1024);
  // Each is still waiting (the pre-upgrade deadline, 30 s, ends them): no answer yet.
  EXPECT_FALSE(held.front()->read_http_head(std::chrono::milliseconds(50)).has_value());
  held.clear();
  expect_bystanders_unaffected();
}

TEST_F(HeaderFlood, TheByteLimitCountsTheWholeHeaderEvenWhenTrickled) {
  RawSocket s(derpd_.port());
  ASSERT_TRUE(s.send_all("GET /derp HTTP/1.1\r\n"));
  // 40 writes of ~500 bytes: each read is small, the header is not.
  for (int i = 0; i < 40; ++i) {
    if (!s.send_all("X-Trickle-" + std::to_string(i) + ": " + std::string(480, 't') + "\r\n")) {
      break;  // already refused
    }
  }
  auto head = s.read_http_head(std::chrono::seconds(10));
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->rfind("HTTP/1.1 431", 0), 0u) << *head;
  expect_bystanders_unaffected();
}

}  // namespace
}  // namespace derp::testing
