// `derpctl probe` against a real two-node TLS region (protocol §10): every probe good on a healthy
// region, then each fault in turn must give its own bad: line and exit code 3: a node without
// STUN, a stopped node (which also partitions the mesh), a certificate expiring in 3 days, and a
// mesh key the region does not use. Both nodes and the prober trust a throwaway CA through
// SSL_CERT_FILE, as a production region trusts a public one.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "relay/tls/test_ca.h"
#include "tests/support/child_process.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/http_text.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

using namespace std::chrono_literals;

std::string derpctl_binary() {
  const char* dir = std::getenv("DERP_BIN_DIR");
  return std::string(dir ? dir : ".") + "/derpctl";
}

// The lines of `output` that start with `prefix` and name `probe` exactly.
bool has_line(const std::string& output, const std::string& prefix, const std::string& probe,
              const std::string& reason_part = {}) {
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(prefix + " " + probe + " (")) continue;
    if (reason_part.empty() || line.find(reason_part) != std::string::npos) return true;
  }
  return false;
}

class ProbeRegion : public ::testing::Test {
 protected:
  void SetUp() override {
    good_ = tls::write_test_pki(dir_.path() + "/good", {"127.0.0.1"});
    short_ = tls::write_test_pki(dir_.path() + "/short", {"127.0.0.1"}, 3LL * 24 * 60 * 60);
    // Both CAs trusted everywhere, so swapping a node's certificate keeps the mesh linked.
    {
      std::ofstream bundle(dir_.path() + "/ca-bundle.pem");
      bundle << std::ifstream(good_.ca_cert).rdbuf() << std::ifstream(short_.ca_cert).rdbuf();
    }
    ::setenv("SSL_CERT_FILE", (dir_.path() + "/ca-bundle.pem").c_str(), 1);
    std::ofstream(mesh_key_)
        << "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    std::ofstream(wrong_key_)
        << "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n";
    ::chmod(mesh_key_.c_str(), 0600);
    ::chmod(wrong_key_.c_str(), 0600);
    ports_[0] = free_port();
    ports_[1] = free_port();
    nodes_[0] = start(0, good_);
    nodes_[1] = start(1, good_);
    stun_ports_[0] = nodes_[0]->stun_port();
    stun_ports_[1] = nodes_[1]->stun_port();
    ASSERT_NE(stun_ports_[0], 0);
    write_map();
    ASSERT_TRUE(eventually([&] { return linked(0) && linked(1); }))
        << nodes_[0]->log() << nodes_[1]->log();
  }
  void TearDown() override { ::unsetenv("SSL_CERT_FILE"); }

  std::unique_ptr<DerpdProcess> start(int i, const tls::TestPki& pki, bool stun = true) {
    const std::string certdir = pki.ca_cert.substr(0, pki.ca_cert.rfind('/'));
    return std::make_unique<DerpdProcess>(std::vector<std::string>{
        "-a", "127.0.0.1:" + std::to_string(ports_[i]),
        "--stun=" + std::string(stun ? "true" : "false"), "--stun-port", "0", "--http-port", "-1",
        "--certmode", "manual", "--hostname", "127.0.0.1", "--certdir", certdir, "-c",
        dir_.path() + "/node" + std::to_string(i) + ".key", "--mesh-psk-file", mesh_key_,
        "--mesh-with", "127.0.0.1:" + std::to_string(ports_[1 - i])});
  }
  bool linked(int i) const {
    return nodes_[i]->log().find("linked to sibling") != std::string::npos;
  }

  void write_map() {
    nlohmann::json nodes = nlohmann::json::array();
    for (int i = 0; i < 2; ++i) {
      nodes.push_back({{"Name", i == 0 ? "a" : "b"},
                       {"RegionID", 900},
                       {"HostName", "127.0.0.1"},
                       {"IPv4", "127.0.0.1"},
                       {"IPv6", "none"},
                       {"STUNPort", stun_ports_[i]},
                       {"DERPPort", ports_[i]}});
    }
    nlohmann::json map{
        {"Regions", {{"900", {{"RegionID", 900}, {"RegionCode", "test"}, {"Nodes", nodes}}}}}};
    std::ofstream(map_file_) << map.dump(2);
  }

  ProcessResult probe_once(const std::string& key_file, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"probe",           "--once", "--derp-map", map_file_,
                                  "--mesh-psk-file", key_file, "--interval", "3s"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_to_exit(derpctl_binary(), args, 30s);
  }

  TempDir dir_;
  tls::TestPki good_, short_;
  std::string mesh_key_ = dir_.path() + "/mesh.key";
  std::string wrong_key_ = dir_.path() + "/wrong.key";
  std::string map_file_ = dir_.path() + "/derpmap.json";
  std::uint16_t ports_[2]{};
  std::uint16_t stun_ports_[2]{};
  std::unique_ptr<DerpdProcess> nodes_[2];
};

TEST_F(ProbeRegion, EveryProbeIsGoodOnAHealthyRegion) {
  auto r = probe_once(mesh_key_);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* probe :
       {"derpmap-probe", "derp/test/a/tls", "derp/test/b/tls", "derp/test/a/udp", "derp/test/b/udp",
        "derp/test/a/a/mesh", "derp/test/a/b/mesh", "derp/test/b/a/mesh", "derp/test/b/b/mesh"}) {
    EXPECT_TRUE(has_line(r.output, "good:", probe)) << probe << "\n" << r.output;
  }
  EXPECT_EQ(r.output.find("bad:"), std::string::npos) << r.output;

  // The same as JSON for scripts, with bw and qd across the mesh.
  auto j =
      run_to_exit(derpctl_binary(),
                  {"-o", "json", "probe", "--once", "--derp-map", map_file_, "--probes", "bw,qd",
                   "--bw-size", "300000", "--qd-duration", "500ms", "--interval", "10s"},
                  30s);
  ASSERT_EQ(j.exit_code, 0) << j.output;
  auto reports = nlohmann::json::parse(j.output);
  ASSERT_EQ(reports.size(), 9u) << j.output;  // the map, then 4 pairs × bw, qd
  for (const auto& report : reports) {
    EXPECT_TRUE(report["good"].get<bool>()) << report.dump();
    if (report["class"] == "derp_bw") {
      EXPECT_EQ(report["figures"]["bytes"].get<double>(), 300000) << report.dump();
      EXPECT_GT(report["figures"]["mbit_per_second"].get<double>(), 0);
    }
    if (report["class"] == "derp_qd") {
      EXPECT_EQ(report["figures"]["lost"].get<double>(), 0) << report.dump();
      EXPECT_EQ(report["figures"]["packets"].get<double>(), 10) << report.dump();  // 20/s × 0.5 s
    }
  }
}

TEST_F(ProbeRegion, ANodeWithoutStunFailsItsUdpProbe) {
  nodes_[1].reset();
  nodes_[1] = start(1, good_, /*stun=*/false);  // the map still lists its STUN port
  auto r = probe_once(mesh_key_);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(has_line(r.output, "bad:", "derp/test/b/udp", "timed out")) << r.output;
  EXPECT_TRUE(has_line(r.output, "good:", "derp/test/a/udp")) << r.output;
  EXPECT_TRUE(has_line(r.output, "good:", "derp/test/b/tls")) << r.output;
  EXPECT_TRUE(has_line(r.output, "good:", "derp/test/b/b/mesh")) << r.output;
}

TEST_F(ProbeRegion, AStoppedNodeFailsItsProbesAndTheMeshPairsThroughIt) {
  nodes_[1].reset();
  auto r = probe_once(mesh_key_);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(has_line(r.output, "bad:", "derp/test/b/tls", "onnection refused")) << r.output;
  EXPECT_TRUE(has_line(r.output, "bad:", "derp/test/a/b/mesh", "connect")) << r.output;
  EXPECT_TRUE(has_line(r.output, "bad:", "derp/test/b/a/mesh")) << r.output;
  EXPECT_TRUE(has_line(r.output, "bad:", "derp/test/b/udp")) << r.output;
  EXPECT_TRUE(has_line(r.output, "good:", "derp/test/a/a/mesh")) << r.output;
  EXPECT_TRUE(has_line(r.output, "good:", "derp/test/a/tls")) << r.output;
}

TEST_F(ProbeRegion, ACertificateExpiringInThreeDaysFailsTheTlsProbe) {
  nodes_[1].reset();
  nodes_[1] = start(1, short_);
  stun_ports_[1] = nodes_[1]->stun_port();
  write_map();
  auto r = probe_once(mesh_key_, {"--probes", "tls"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(has_line(r.output, "bad:", "derp/test/b/tls", "expires in ")) << r.output;
  EXPECT_TRUE(has_line(r.output, "good:", "derp/test/a/tls", "more days")) << r.output;
}

TEST_F(ProbeRegion, AMeshKeyTheRegionDoesNotUseIsReported) {
  auto r = probe_once(wrong_key_, {"--probes", "mesh"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(has_line(r.output, "bad:", "derp/test/a/a/mesh", "does not accept the mesh key"))
      << r.output;
  EXPECT_TRUE(has_line(r.output, "bad:", "derp/test/b/b/mesh", "does not accept the mesh key"))
      << r.output;
}

TEST_F(ProbeRegion, WithoutOnceItServesDerpprobeMetricsAndHealthz) {
  const std::uint16_t listen = free_port();
  const std::string log = dir_.path() + "/probe.log";
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  pid_t pid = spawn_child(derpctl_binary(),
                          {"probe", "--derp-map", map_file_, "--mesh-psk-file", mesh_key_,
                           "--interval", "2s", "--listen", "127.0.0.1:" + std::to_string(listen)},
                          fd, fd);
  ::close(fd);
  struct Stop {
    pid_t& pid;
    ~Stop() { stop_child(pid, SIGTERM, 10s); }
  } stop{pid};
  const std::string mesh_result =
      R"(derpprobe_result{name="derp/test/a/b/mesh",class="derp_mesh",region="test",)"
      R"(region_id="900",hostname="127.0.0.1",derp_path="mesh"} 1)";
  std::string metrics;
  ASSERT_TRUE(eventually(
      [&] {
        try {
          metrics = http_get(listen, "/metrics");
        } catch (const std::exception&) {
          return false;
        }
        return metrics.find(mesh_result) != std::string::npos;
      },
      20s))
      << metrics;
  EXPECT_NE(metrics.find(R"(derpprobe_result{name="derpmap-probe",class="derp_map"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("derpprobe_attempts_total{name=\"derp/test/b/udp\""), std::string::npos);
  EXPECT_NE(http_get(listen, "/healthz").find("\r\n\r\nok\n"), std::string::npos);
  // The prober's series that deploy/monitoring's alerts and dashboard use are served here.
  for (const char* file : {"derpd-alerts.yml", "grafana-dashboard.json"}) {
    std::ifstream in(std::string(DERP_SOURCE_DIR) + "/deploy/monitoring/" + file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(text.empty()) << file;
    static const std::regex used(R"(\bderpprobe_[a-z_]+)");
    int uses = 0;
    for (std::sregex_iterator it(text.begin(), text.end(), used), end; it != end; ++it, ++uses) {
      EXPECT_NE(metrics.find("\n" + it->str() + "{"), std::string::npos)
          << file << " uses " << it->str() << ", which derpctl probe does not serve";
    }
    EXPECT_GT(uses, 0) << file;
  }

  // A node going away turns its probes bad in the next rounds, without a restart of the prober.
  nodes_[1].reset();
  const std::string b_tls_bad =
      R"(derpprobe_result{name="derp/test/b/tls",class="tls",region="test",region_id="900",)"
      R"(hostname="127.0.0.1"} 0)";
  EXPECT_TRUE(eventually(
      [&] { return http_get(listen, "/metrics").find(b_tls_bad) != std::string::npos; }, 20s));
  EXPECT_EQ(stop_child(pid, SIGTERM, 10s), 0);  // exits 0 on SIGTERM
}

// What an operator gets wrong first: flags (exit 2, with the reason) and the map (a bad
// derpmap-probe line, exit 3).
TEST(ProbeCommand, SaysWhatIsWrongWithFlagsAndTheMap) {
  auto none = run_to_exit(derpctl_binary(), {"probe", "--once"});
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_NE(none.output.find("--derp-map FILE|URL or --node URL"), std::string::npos);

  auto bad_probe = run_to_exit(derpctl_binary(), {"probe", "--once", "--node", "http://127.0.0.1:1",
                                                  "--probes", "tls,ping"});
  EXPECT_EQ(bad_probe.exit_code, 2) << bad_probe.output;
  EXPECT_NE(bad_probe.output.find("unknown probe \"ping\""), std::string::npos);

  auto long_qd = run_to_exit(derpctl_binary(), {"probe", "--once", "--node", "http://127.0.0.1:1",
                                                "--probes", "qd", "--qd-duration", "20s"});
  EXPECT_EQ(long_qd.exit_code, 2) << long_qd.output;

  TempDir dir;
  auto missing = run_to_exit(derpctl_binary(),
                             {"probe", "--once", "--derp-map", dir.path() + "/nothing.json"});
  EXPECT_EQ(missing.exit_code, 3) << missing.output;
  EXPECT_TRUE(has_line(missing.output, "bad:", "derpmap-probe", "no such file")) << missing.output;

  std::ofstream(dir.path() + "/dup.json")
      << R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"a","HostName":"h"},)"
      << R"({"Name":"a","HostName":"h"}]}}})";
  auto duplicate =
      run_to_exit(derpctl_binary(), {"probe", "--once", "--derp-map", dir.path() + "/dup.json"});
  EXPECT_EQ(duplicate.exit_code, 3) << duplicate.output;
  EXPECT_TRUE(has_line(duplicate.output, "bad:", "derpmap-probe", "\"a\" is used twice"))
      << duplicate.output;
}

// A stopped dev node: connect refused is reported by the probe that needed it, quickly.
TEST(ProbeCommand, ANodeThatIsNotThereIsBadNotAHang) {
  const std::uint16_t port = free_port();
  auto r = run_to_exit(derpctl_binary(),
                       {"probe", "--once", "--node", "http://127.0.0.1:" + std::to_string(port),
                        "--stun-port", "-1", "--probes", "mesh"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(has_line(r.output, "bad:", "derp/node/127.0.0.1/127.0.0.1/mesh", "refused"))
      << r.output;
}

}  // namespace
}  // namespace derp::testing
