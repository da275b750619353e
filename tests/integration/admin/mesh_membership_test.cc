// A region's membership changed while its nodes run (derpctl mesh add/remove, SIGHUP re-reading
// --mesh-with-file), with real derpd processes on loopback and real DERP clients on them.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/admin/derpctl_runner.h"
#include "tests/support/async_runner.h"
#include "tests/support/build_kind.h"
#include "tests/support/client_checks.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using client::DerpClient;
using namespace std::chrono_literals;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class MeshMembership : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.path() + "/mesh.key")
        << "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    for (auto& p : ports_) p = free_port();
  }
  std::string entry(int i) const { return "http://127.0.0.1:" + std::to_string(ports_[i]); }
  std::string socket(int i) const { return dir_.path() + "/admin" + std::to_string(i) + ".sock"; }
  std::string mesh_file() const { return dir_.path() + "/node0.mesh"; }
  void start(int i, std::vector<std::string> extra) {
    auto args = region_node_flags(dir_.path(), ports_[i], i, socket(i));
    args.insert(args.end(), extra.begin(), extra.end());
    nodes_[i] = std::make_unique<DerpdProcess>(args);
  }
  DerpctlResult ctl(int i, std::vector<std::string> args) const {
    args.insert(args.begin(), {"--admin", "unix:" + socket(i)});
    return run_derpctl(std::move(args));
  }
  // Links of node i that are up, from derpctl mesh -o json.
  int links_up(int i) const {
    auto r = ctl(i, {"-o", "json", "mesh"});
    if (r.exit_code != 0) return -1;
    int up = 0;
    for (const auto& l : nlohmann::json::parse(r.out)) up += l["state"] == "MESH_LINK_STATE_UP";
    return up;
  }
  client::ClientOptions options(int node) const {
    client::ClientOptions o;
    o.url = entry(node) + "/derp";
    o.key = protocol::NodePrivate::generate();
    return o;
  }

  AsyncRunner runner_;
  TempDir dir_;
  std::uint16_t ports_[3]{};
  std::unique_ptr<DerpdProcess> nodes_[3];
};

// Scaling a region from 2 to 3 nodes: the third starts with both others in its --mesh-with, then
// `derpctl mesh add` on the two running nodes links them to it. Clients on node 0 and node 2
// reach each other within 2 s of the add, no node restarted. Removing it again sends PeerGone.
TEST_F(MeshMembership, ARegionGrowsFromTwoToThreeNodesAndShrinksBackWithoutARestart) {
  std::ofstream(mesh_file()) << "";
  start(0, {"--mesh-with", entry(1), "--mesh-with-file", mesh_file()});
  start(1, {"--mesh-with", entry(0)});
  ASSERT_TRUE(eventually([&] { return links_up(0) == 1 && links_up(1) == 1; })) << nodes_[0]->log();
  start(2, {"--mesh-with", entry(0) + "," + entry(1)});

  std::unique_ptr<DerpClient> a, c;
  runner_.run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto oa = options(0);
    auto oc = options(2);
    a = co_await DerpClient::connect(ex, oa);
    c = co_await DerpClient::connect(ex, oc);
  }());

  const auto added_at = std::chrono::steady_clock::now();
  auto add0 = ctl(0, {"mesh", "add", entry(2)});
  ASSERT_EQ(add0.exit_code, 0) << add0.err;
  EXPECT_NE(add0.out.find("saved to " + mesh_file()), std::string::npos) << add0.out;
  auto add1 = ctl(1, {"mesh", "add", entry(2)});
  ASSERT_EQ(add1.exit_code, 0) << add1.err;
  EXPECT_NE(add1.out.find("not persisted"), std::string::npos) << add1.out;
  runner_.run([&]() -> asio::awaitable<void> {
    (void)co_await send_until_received(*a, *c, 100, 10s);
    (void)co_await send_until_received(*c, *a, 100, 10s);
  }());
  const auto took = std::chrono::steady_clock::now() - added_at;
  std::cout << "cross-node delivery both ways "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
            << " ms after the first derpctl mesh add\n";
  EXPECT_LT(took, kSanitizerBuild ? 4s : 2s)
      << "cross-node delivery took "
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_NE(read_text(mesh_file()).find(entry(2)), std::string::npos) << read_text(mesh_file());
  EXPECT_EQ(links_up(0), 2);

  auto again = ctl(0, {"mesh", "add", entry(2)});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("already a sibling"), std::string::npos) << again.err;
  auto self = ctl(0, {"mesh", "add", "not a url//x"});
  EXPECT_NE(self.exit_code, 0);

  // a received from c, so node 0 tells a that c is gone once node 2 leaves its region.
  auto removed = ctl(0, {"mesh", "remove", entry(2)});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  runner_.run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    CloseAfter limit(ex, *a, std::chrono::seconds(10));
    bool gone = false;
    try {
      while (!gone) {
        auto m = co_await next_message(*a);
        if (auto* g = std::get_if<client::PeerGone>(&m)) gone = g->key == c->public_key();
      }
    } catch (const std::exception&) {
    }
    EXPECT_TRUE(gone) << "no PeerGone for the client of the removed sibling";
  }());
  EXPECT_EQ(read_text(mesh_file()).find(entry(2)), std::string::npos) << read_text(mesh_file());
  EXPECT_EQ(links_up(0), 1);
  auto unknown = ctl(0, {"mesh", "remove", entry(2)});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("not a sibling"), std::string::npos) << unknown.err;
}

// SIGHUP re-reads --mesh-with-file: a sibling written there is linked, a broken file changes
// nothing, an emptied file unlinks.
TEST_F(MeshMembership, SighupReReadsTheSiblingFile) {
  std::ofstream(mesh_file()) << "# no siblings yet\n";
  start(0, {"--mesh-with-file", mesh_file()});
  start(1, {"--mesh-with", entry(0)});
  EXPECT_EQ(links_up(0), 0);

  std::ofstream(mesh_file()) << "# node 1\n" << entry(1) << "   # added by hand\n";
  ::kill(nodes_[0]->pid(), SIGHUP);
  EXPECT_TRUE(eventually([&] { return links_up(0) == 1; })) << nodes_[0]->log();

  std::ofstream(mesh_file()) << "https://\n";
  ::kill(nodes_[0]->pid(), SIGHUP);
  EXPECT_TRUE(eventually([&] {
    return nodes_[0]->log().find("mesh siblings not reloaded") != std::string::npos;
  })) << nodes_[0]->log();
  EXPECT_EQ(links_up(0), 1);

  std::ofstream(mesh_file()) << "";
  ::kill(nodes_[0]->pid(), SIGHUP);
  EXPECT_TRUE(eventually([&] {
    auto r = ctl(0, {"-o", "json", "mesh"});
    return r.exit_code == 0 && nlohmann::json::parse(r.out).empty();
  })) << nodes_[0]->log();
}

TEST_F(MeshMembership, ANodeWithoutTheMeshKeyRefusesToAddASibling) {
  nodes_[0] = std::make_unique<DerpdProcess>(
      std::vector<std::string>{"-a", "127.0.0.1:" + std::to_string(ports_[0]), "--stun=false", "-c",
                               dir_.path() + "/node0.key", "--admin-socket", socket(0)});
  auto r = ctl(0, {"mesh", "add", entry(1)});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--mesh-psk-file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace derp::testing
