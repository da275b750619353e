// Scale of a region: three real derpd nodes meshed over plain HTTP on loopback, 1,000
// DERP clients on each. Routes must converge on every node within a bounded time, packets between
// clients on different nodes must be delivered, and the memory a node spends per remote route is
// measured and reported ("memory per remote route: N bytes" on stdout and as a test property).
//
// The memory is measured on node 2 while it has no clients of its own: its VmRSS with 0 remote
// routes (only the mesh) against its VmRSS once the 2,000 clients of nodes 0 and 1 are routed.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <iostream>
#include <thread>

#include "tests/support/async_runner.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/proc_status.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using client::DerpClient;
using namespace std::chrono_literals;

constexpr int kNodes = 3;
constexpr int kClientsPerNode = 1000;
constexpr long long kServerKeys = kNodes;
constexpr int kLanesPerNode = 25;  // concurrent connects per node
constexpr auto kConvergenceLimit = 20s;
constexpr int kSamplePackets = 60;

using Clients = std::vector<std::unique_ptr<DerpClient>>;

// Connects `count` clients to `url` one after another, appending them to `out` (all lanes run on
// the same io_context thread, so they share `out` safely).
asio::awaitable<void> connect_lane(std::string url, int count, Clients* out) {
  auto ex = co_await asio::this_coro::executor;
  for (int k = 0; k < count; ++k) {
    client::ClientOptions o;
    o.url = url;
    o.key = protocol::NodePrivate::generate();
    auto c = co_await DerpClient::connect(ex, o);
    out->push_back(std::move(c));
  }
}

asio::awaitable<void> send_one(DerpClient& from, protocol::NodePublic to,
                               std::vector<std::uint8_t> packet) {
  protocol::Bytes bytes(packet);
  co_await from.send_packet(to, bytes);
}

// Whether `to` receives `packet` from `src` within `limit`. On time-out the client is closed (so
// nothing stays pending on it) and false comes back.
asio::awaitable<bool> received(DerpClient& to, protocol::NodePublic src,
                               std::vector<std::uint8_t> packet, std::chrono::milliseconds limit) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer guard(ex);
  guard.expires_after(limit);
  DerpClient* target = &to;
  guard.async_wait([target](boost::system::error_code ec) {
    if (!ec) target->close();
  });
  bool ok = false;
  try {
    for (;;) {
      auto got = co_await next_packet(to);
      if (got.src == src && got.data == packet) {
        ok = true;
        break;
      }
    }
  } catch (const std::exception&) {
  }
  guard.cancel();
  co_return ok;
}

asio::awaitable<void> close_all(Clients* clients) {
  for (auto& c : *clients) c->close();
  clients->clear();
  co_return;
}

class MeshScale : public ::testing::Test {
 protected:
  void SetUp() override {
    // 3,000 client sockets here, 1,000+ in each derpd (which inherits the limit).
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    const rlim_t want = 16384;
    if (lim.rlim_cur < want) {
      rlimit raised = lim;
      raised.rlim_cur = std::min<rlim_t>(want, lim.rlim_max);
      if (lim.rlim_max < want) {
        raised.rlim_cur = raised.rlim_max = want;  // works as root
        if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
          raised.rlim_cur = raised.rlim_max = lim.rlim_max;
        }
      }
      ::setrlimit(RLIMIT_NOFILE, &raised);
      ::getrlimit(RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur < static_cast<rlim_t>(kNodes * kClientsPerNode + 512)) {
      GTEST_SKIP() << "RLIMIT_NOFILE is " << lim.rlim_cur << " and cannot be raised to "
                   << kNodes * kClientsPerNode + 512 << " descriptors";
    }

    std::ofstream(dir_.path() + "/mesh.key")
        << "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    for (int i = 0; i < kNodes; ++i) ports_[i] = free_port();
    for (int i = 0; i < kNodes; ++i) {
      const std::string siblings = loopback_siblings(ports_, i);
      nodes_[i] = std::make_unique<DerpdProcess>(
          std::vector<std::string>{"-a", "127.0.0.1:" + std::to_string(ports_[i]), "--stun=false",
                                   "-c", dir_.path() + "/node" + std::to_string(i) + ".key",
                                   "--mesh-psk-file", dir_.path() + "/mesh.key", "--mesh-with",
                                   siblings, "--workers", "2", "--admin-socket", "off"});
    }
  }

  void TearDown() override {
    for (auto& c : clients_) {
      if (!c.empty()) runner_.run(close_all(&c), 30s);
    }
  }

  std::string url(int i) const { return "http://127.0.0.1:" + std::to_string(ports_[i]) + "/derp"; }
  std::string state() {
    std::string s;
    for (int i = 0; i < kNodes; ++i) {
      s += "node " + std::to_string(i) + ": watchers " +
           std::to_string(varz_value(ports_[i], "derp_watchers")) + ", keys " +
           std::to_string(varz_value(ports_[i], "derp_clients_total")) + ", local clients " +
           std::to_string(clients_[i].size()) + "\n";
    }
    return s;
  }
  // Starts connecting kClientsPerNode clients to node i.
  std::vector<std::future<void>> connect_clients(int i) {
    std::vector<std::future<void>> lanes;
    for (int l = 0; l < kLanesPerNode; ++l) {
      int count = kClientsPerNode / kLanesPerNode + (l < kClientsPerNode % kLanesPerNode ? 1 : 0);
      lanes.push_back(runner_.spawn(connect_lane(url(i), count, &clients_[i])));
    }
    return lanes;
  }
  // Waits for every lane; false (with the first error in *error) when one failed or hung.
  static bool finished(std::vector<std::future<void>>& lanes, std::string* error) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    for (auto& f : lanes) {
      if (f.wait_until(deadline) != std::future_status::ready) {
        *error = "connects did not finish in time";
        return false;
      }
      try {
        f.get();
      } catch (const std::exception& e) {
        *error = e.what();
        return false;
      }
    }
    return true;
  }
  bool keys_everywhere(long long total, std::chrono::milliseconds limit) {
    return eventually(
        [&] {
          for (int i = 0; i < kNodes; ++i) {
            if (varz_value(ports_[i], "derp_clients_total") != total) return false;
          }
          return true;
        },
        limit);
  }

  AsyncRunner runner_;
  TempDir dir_;
  std::uint16_t ports_[kNodes]{};
  std::unique_ptr<DerpdProcess> nodes_[kNodes];
  Clients clients_[kNodes];
};

TEST_F(MeshScale, ThreeNodesWithAThousandClientsEachConvergeAndForward) {
  for (int i = 0; i < kNodes; ++i) {
    ASSERT_TRUE(eventually([&] { return varz_value(ports_[i], "derp_watchers") == kNodes - 1; }))
        << state();
  }
  ASSERT_TRUE(keys_everywhere(kServerKeys, 10s)) << state();
  // Node 2 with the mesh up and no routes to anyone's clients yet.
  std::this_thread::sleep_for(300ms);
  const long long rss_before = rss_bytes(nodes_[2]->pid());

  // 1,000 clients on node 0 and 1,000 on node 1: node 2 learns 2,000 remote routes.
  auto started = std::chrono::steady_clock::now();
  auto lanes = connect_clients(0);
  auto more = connect_clients(1);
  lanes.insert(lanes.end(), std::make_move_iterator(more.begin()),
               std::make_move_iterator(more.end()));
  std::string error;
  ASSERT_TRUE(finished(lanes, &error)) << error << "\n" << state();
  ASSERT_TRUE(eventually(
      [&] {
        return varz_value(ports_[2], "derp_clients_total") == kServerKeys + 2 * kClientsPerNode;
      },
      kConvergenceLimit))
      << state();
  std::this_thread::sleep_for(300ms);
  const long long rss_after = rss_bytes(nodes_[2]->pid());
  const long long per_route = (rss_after - rss_before) / (2 * kClientsPerNode);
  std::cout << "node 2 VmRSS: " << rss_before << " bytes with 0 remote routes, " << rss_after
            << " bytes with " << 2 * kClientsPerNode << "\n";
  std::cout << "memory per remote route: " << per_route << " bytes" << std::endl;
  RecordProperty("memory_per_remote_route_bytes", static_cast<int>(per_route));
  RecordProperty("rss_0_remote_routes", static_cast<int>(rss_before));
  RecordProperty("rss_2000_remote_routes", static_cast<int>(rss_after));
  EXPECT_GT(rss_before, 0);

  // The last 1,000 on node 2; every node then knows 3 server keys and 3,000 client keys.
  lanes = connect_clients(2);
  ASSERT_TRUE(finished(lanes, &error)) << error << "\n" << state();
  ASSERT_TRUE(
      keys_everywhere(kServerKeys + kNodes * kClientsPerNode,
                      std::chrono::duration_cast<std::chrono::milliseconds>(
                          kConvergenceLimit - (std::chrono::steady_clock::now() - started))))
      << state();
  auto converged_in = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  std::cout << "3 x " << kClientsPerNode << " clients connected and routes converged in "
            << converged_in.count() << " ms" << std::endl;
  RecordProperty("convergence_ms", static_cast<int>(converged_in.count()));
  EXPECT_LT(converged_in, kConvergenceLimit);

  // A sample of packets between clients on different nodes, every direction.
  int delivered = 0;
  std::string misses;
  for (int n = 0; n < kSamplePackets; ++n) {
    int from_node = n % kNodes;
    int to_node = (from_node + 1 + (n / kNodes) % (kNodes - 1)) % kNodes;
    auto& from = *clients_[from_node][static_cast<std::size_t>(n * 37) % kClientsPerNode];
    auto& to = *clients_[to_node][static_cast<std::size_t>(n * 53 + 11) % kClientsPerNode];
    auto packet = numbered_packet(static_cast<std::uint32_t>(n), 300);
    runner_.run(send_one(from, to.public_key(), packet), 10s);
    bool ok = runner_.run(received(to, from.public_key(), packet, 5s), 10s);
    if (ok) {
      ++delivered;
    } else {
      misses += " " + std::to_string(from_node) + "→" + std::to_string(to_node);
    }
  }
  EXPECT_EQ(delivered, kSamplePackets) << "lost:" << misses << "\n" << state();
  EXPECT_GT(varz_value(ports_[0], "derp_packets_forwarded_out"), 0);
  EXPECT_GT(varz_value(ports_[0], "derp_packets_forwarded_in"), 0);
}

}  // namespace
}  // namespace derp::testing
