// derpctl region rollout on a real three-node region (plain HTTP on loopback) with clients that
// fail over the way Tailscale's do (tests/support/region_client.h): every node is drained and put
// back in turn, every client of a drained node is found on a sibling before the next step, the
// operator's command runs once per node in order, and a failing command or an unhealthy region
// stops the rollout before the next node is touched.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/admin/derpctl_runner.h"
#include "tests/support/async_runner.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/region_client.h"
#include "tests/support/service_manager_sockets.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
constexpr int kNodes = 3;
constexpr int kClientsPerNode = 5;

class RegionRollout : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.path() + "/mesh.key")
        << "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    for (int i = 0; i < kNodes; ++i) ports_[i] = port_for(i);
    for (int i = 0; i < kNodes; ++i) {
      args_[i] = region_node_flags(dir_.path(), ports_[i], i, socket(i));
      args_[i].insert(args_[i].end(), {"--mesh-with", loopback_siblings(ports_, i)});
      nodes_[i] = start_node(i);
    }
    // Each client lists its home node first, then the others in order, as a DERP map would.
    for (int home = 0; home < kNodes; ++home) {
      for (int n = 0; n < kClientsPerNode; ++n) {
        RegionClientOptions o;
        for (int j = 0; j < kNodes; ++j) {
          o.urls.push_back("http://127.0.0.1:" + std::to_string(ports_[(home + j) % kNodes]) +
                           "/derp");
        }
        clients_.push_back(std::make_unique<RegionClient>(runner_.executor(), o, nullptr));
        tasks_.push_back(runner_.spawn(stay_connected(*clients_.back())));
      }
    }
    ASSERT_TRUE(eventually([&] {
      for (const auto& c : clients_) {
        if (c->node < 0) return false;
      }
      return true;
    }));
    ASSERT_TRUE(eventually([&] { return region_status().exit_code == 0; })) << region_status().out;
  }
  DerpctlResult region_status() const {
    return run_derpctl({"region", "status", "--node", "unix:" + socket(0), "--node",
                        "unix:" + socket(1), "--node", "unix:" + socket(2)});
  }
  // How node i gets its port and starts: binding its own socket here; on sockets a service
  // manager keeps in RegionRolloutWithKeptSockets.
  virtual std::uint16_t port_for(int) { return free_port(); }
  virtual std::unique_ptr<DerpdProcess> start_node(int i) {
    return std::make_unique<DerpdProcess>(args_[i]);
  }

  void TearDown() override {
    runner_.run([&]() -> asio::awaitable<void> {
      for (auto& c : clients_) c->stop();
      co_return;
    }());
    for (auto& t : tasks_) t.wait();
  }

  static asio::awaitable<void> stay_connected(RegionClient& c) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    while (!c.stopped()) {
      (void)co_await c.ensure_connected();
      pause.expires_after(std::chrono::milliseconds(100));
      boost::system::error_code ec;
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  std::string socket(int i) const { return dir_.path() + "/admin" + std::to_string(i) + ".sock"; }
  DerpctlResult rollout(std::vector<std::string> extra) const {
    std::vector<std::string> args{"region", "rollout"};
    for (int i = 0; i < kNodes; ++i) args.insert(args.end(), {"--node", "unix:" + socket(i)});
    args.insert(args.end(), extra.begin(), extra.end());
    return run_derpctl(args);
  }

  AsyncRunner runner_;
  TempDir dir_;
  std::uint16_t ports_[kNodes]{};
  std::vector<std::string> args_[kNodes];
  std::unique_ptr<DerpdProcess> nodes_[kNodes];
  std::vector<std::unique_ptr<RegionClient>> clients_;
  std::vector<std::future<void>> tasks_;
};

TEST_F(RegionRollout, EveryNodeInTurnAndEveryClientOnASiblingBeforeTheNextStep) {
  const std::string log = dir_.path() + "/exec.log";
  auto r = rollout({"--exec", "echo \"$DERPCTL_NODE\" >> " + log, "--rate", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::cout << r.out;
  for (int i = 0; i < kNodes; ++i) {
    const std::string prefix =
        "[" + std::to_string(i + 1) + "/3] unix:" + socket(i) + ": drained; ";
    auto at = r.out.find(prefix);
    ASSERT_NE(at, std::string::npos) << r.out;
    // Only the node's own clients count; the earlier nodes' clients may be there too.
    auto counts = r.out.substr(at + prefix.size(), r.out.find('\n', at) - at - prefix.size());
    std::istringstream words(counts);
    int moved = -1, of = -1;
    std::string word;
    words >> moved >> word >> of;
    EXPECT_GE(of, kClientsPerNode) << counts;
    EXPECT_EQ(moved, of) << counts;
    EXPECT_NE(r.out.find("[" + std::to_string(i + 1) + "/3] unix:" + socket(i) + ": undrained"),
              std::string::npos)
        << r.out;
  }
  std::ifstream in(log);
  std::vector<std::string> ran;
  for (std::string line; std::getline(in, line);) ran.push_back(line);
  ASSERT_EQ(ran.size(), 3u);
  for (int i = 0; i < kNodes; ++i) EXPECT_EQ(ran[i], "unix:" + socket(i));
  // Every client is connected somewhere afterwards, and every node serves again.
  EXPECT_TRUE(eventually([&] {
    for (const auto& c : clients_) {
      if (c->node < 0) return false;
    }
    return true;
  }));
  EXPECT_EQ(region_status().exit_code, 0) << region_status().out;
}

TEST_F(RegionRollout, AFailingCommandStopsBeforeTheNextNode) {
  auto r = rollout({"--exec", "exit 7"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("the command exited with status"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("[2/3]"), std::string::npos) << "node 2 was touched:\n" << r.out;
}

TEST_F(RegionRollout, AnUnhealthyRegionIsNotTouched) {
  nodes_[2]->stop();
  auto r = rollout({"--exec", "true"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("is not healthy before this node"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("draining"), std::string::npos) << "a node was drained:\n" << r.out;
}

// The rollout with a command that really restarts each node, as `systemctl restart derpd` does on
// a host with deploy/systemd's units. The test plays systemd (it cannot run as PID 1 here): it
// keeps each node's listening socket (derpd.socket) and starts a node again when it exits
// (Restart=always); the command signals the node and returns once the new process is ready, as
// systemctl returns after READY=1.
class RegionRolloutWithKeptSockets : public RegionRollout {
 protected:
  std::uint16_t port_for(int i) override { return sockets_[i].add_tcp_listener("derp"); }
  std::unique_ptr<DerpdProcess> start_node(int i) override {
    auto node = std::make_unique<DerpdProcess>(args_[i], sockets_[i].pass_to_child());
    const std::string pid_file = socket(i) + ".pid";
    std::ofstream(pid_file + ".new") << node->pid() << "\n";
    std::rename((pid_file + ".new").c_str(), pid_file.c_str());
    return node;
  }
  void SetUp() override {
    RegionRollout::SetUp();
    supervisor_ = std::thread([this] {
      while (!stop_supervising_) {
        for (int i = 0; i < kNodes; ++i) {
          int status = 0;
          if (!nodes_[i]->exited(status)) continue;
          if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            ADD_FAILURE() << "node " << i << " exited with status " << status;
          }
          ++restarts_;
          nodes_[i] = start_node(i);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // systemd's own polling
      }
    });
  }
  void stop_supervising() {
    if (stop_supervising_.exchange(true)) return;
    supervisor_.join();
  }
  void TearDown() override {
    stop_supervising();
    RegionRollout::TearDown();
  }

  ServiceManagerSockets sockets_[kNodes];
  std::atomic<bool> stop_supervising_{false};
  std::atomic<int> restarts_{0};
  std::thread supervisor_;
};

TEST_F(RegionRolloutWithKeptSockets, EveryNodeRestartedInTurnWithItsClientsOnSiblings) {
  std::vector<pid_t> before;
  for (const auto& n : nodes_) before.push_back(n->pid());
  // `systemctl restart derpd`: SIGTERM, then wait (at most 20 s) for the next process.
  const std::string restart =
      "f=\"${DERPCTL_NODE#unix:}.pid\"; old=$(cat \"$f\"); kill -TERM \"$old\"; "
      "for i in $(seq 400); do [ \"$(cat \"$f\")\" != \"$old\" ] && exit 0; sleep 0.05; done; "
      "exit 1";
  auto r = rollout({"--exec", restart, "--rate", "1000"});
  stop_supervising();  // from here on nodes_ is this thread's
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::cout << r.out;
  EXPECT_EQ(restarts_.load(), kNodes);
  for (int i = 0; i < kNodes; ++i) {
    const std::string node = "[" + std::to_string(i + 1) + "/3] unix:" + socket(i) + ": ";
    EXPECT_NE(r.out.find(node + "serving again (restarted)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(node + "done in"), std::string::npos) << r.out;
    EXPECT_NE(nodes_[i]->pid(), before[i]);
  }
  // Every client is connected somewhere afterwards, and every restarted node serves DERP on the
  // socket its drain had shut.
  EXPECT_TRUE(eventually([&] {
    for (const auto& c : clients_) {
      if (c->node < 0) return false;
    }
    return true;
  }));
  EXPECT_EQ(region_status().exit_code, 0) << region_status().out;
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_NE(http_get(ports_[i], "/derp/probe").find("200"), std::string::npos) << i;
  }
}

}  // namespace
}  // namespace derp::testing
