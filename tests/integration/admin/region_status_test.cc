// derpctl region status and derpctl mesh on a real three-node region (plain HTTP on loopback):
// a healthy region reads as healthy (every node 2/2 links up, exit 0), and a stopped node makes it
// unhealthy (exit 3) with the failing links named.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "tests/integration/admin/derpctl_runner.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

using nlohmann::json;

class RegionStatus : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.path() + "/mesh.key")
        << "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    for (auto& p : ports_) p = free_port();
    for (std::size_t i = 0; i < 3; ++i) {
      nodes_.push_back(std::make_unique<DerpdProcess>(std::vector<std::string>{
          "-a", "127.0.0.1:" + std::to_string(ports_[i]), "--stun=false", "-c",
          dir_.path() + "/node" + std::to_string(i) + ".key", "--mesh-psk-file",
          dir_.path() + "/mesh.key", "--mesh-with", loopback_siblings(ports_, i), "--admin-socket",
          admin_socket(i)}));
    }
  }
  std::string admin_socket(std::size_t i) const {
    return dir_.path() + "/admin" + std::to_string(i) + ".sock";
  }
  DerpctlResult region_status(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = extra;
    args.insert(args.end(), {"region", "status"});
    for (std::size_t i = 0; i < 3; ++i) {
      args.insert(args.end(), {"--node", "unix:" + admin_socket(i)});
    }
    return run_derpctl(args);
  }

  TempDir dir_;
  std::uint16_t ports_[3]{};
  std::vector<std::unique_ptr<DerpdProcess>> nodes_;
};

TEST_F(RegionStatus, AHealthyRegionIsHealthyAndAStoppedNodeIsNot) {
  ASSERT_TRUE(eventually([&] { return region_status().exit_code == 0; }))
      << region_status().out << region_status().err;
  auto table = region_status();
  EXPECT_EQ(table.exit_code, 0);
  std::size_t full = 0;
  for (std::size_t at = 0; (at = table.out.find(" 2/2 ", at)) != std::string::npos; ++at) ++full;
  EXPECT_EQ(full, 3u) << "every node has 2 of 2 links up:\n" << table.out;

  auto doc = json::parse(region_status({"-o", "json"}).out);
  EXPECT_EQ(doc["healthy"], true);
  for (const auto& n : doc["nodes"]) {
    ASSERT_EQ(n["mesh"].size(), 2u);
    for (const auto& l : n["mesh"]) EXPECT_EQ(l["state"], "MESH_LINK_STATE_UP") << l.dump();
  }
  auto mesh = run_derpctl({"--admin", "unix:" + admin_socket(0), "mesh"});
  EXPECT_EQ(mesh.exit_code, 0);
  EXPECT_NE(mesh.out.find(" up "), std::string::npos) << mesh.out;

  nodes_[2]->stop();
  EXPECT_TRUE(eventually([&] { return region_status().exit_code == 3; })) << region_status().out;
  auto broken = region_status();
  EXPECT_NE(broken.out.find("unreachable"), std::string::npos) << broken.out;
  EXPECT_NE(broken.out.find("backoff"), std::string::npos) << broken.out;
}

}  // namespace
}  // namespace derp::testing
