// derpd's own Prometheus series (relay/main/node_metrics.h) from given facts.
#include "relay/main/node_metrics.h"

#include <gtest/gtest.h>

namespace derp::main {
namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(NodeMetrics, OneSeriesPerFactWithEscapedLabels) {
  NodeMetrics m;
  m.version = "1.2.3";
  m.drain = server::DrainState::kDraining;
  m.mesh.push_back({"derp2.example.com", server::MeshLinkState::kUp, 3, 40, 500, 600000});
  m.mesh.push_back({"odd\"name\\", server::MeshLinkState::kConnecting, 0, 0, 0, 0});
  m.certs.push_back({"derp1.example.com", 1767225600});
  const auto text = node_metrics_text(m);
  EXPECT_TRUE(has(text, "derpd_build_info{version=\"1.2.3\"} 1")) << text;
  EXPECT_TRUE(has(text, "derpd_drain_state{state=\"serving\"} 0"));
  EXPECT_TRUE(has(text, "derpd_drain_state{state=\"draining\"} 1"));
  EXPECT_TRUE(has(text, "derpd_drain_state{state=\"drained\"} 0"));
  EXPECT_TRUE(has(text, "derpd_mesh_links 2"));
  EXPECT_TRUE(has(text, "derpd_mesh_link_up{peer=\"derp2.example.com\"} 1"));
  EXPECT_TRUE(has(text, "derpd_mesh_link_up{peer=\"odd\\\"name\\\\\"} 0")) << text;
  EXPECT_TRUE(has(text, "derpd_mesh_link_routes{peer=\"derp2.example.com\"} 40"));
  EXPECT_TRUE(has(text, "derpd_mesh_link_reconnects_total{peer=\"derp2.example.com\"} 3"));
  EXPECT_TRUE(
      has(text, "derpd_mesh_link_forwarded_bytes_total{peer=\"derp2.example.com\"} 600000"));
  EXPECT_TRUE(
      has(text, "derpd_tls_cert_expiry_timestamp_seconds{name=\"derp1.example.com\"} 1767225600"));
}

TEST(NodeMetrics, EmptyFamiliesAreStillDeclared) {
  const auto text = node_metrics_text({});
  EXPECT_TRUE(has(text, "# TYPE derpd_mesh_link_up gauge"));
  EXPECT_TRUE(has(text, "# TYPE derpd_tls_cert_expiry_timestamp_seconds gauge"));
  EXPECT_EQ(text.find("derpd_mesh_link_up{"), std::string::npos);
  EXPECT_TRUE(has(text, "derpd_mesh_links 0"));
}

TEST(NodeMetrics, ProcessSeriesComeFromProc) {
  const auto text = process_metrics_text();
  EXPECT_NE(text.find("\nprocess_open_fds "), std::string::npos) << text;
  EXPECT_NE(text.find("\nprocess_resident_memory_bytes "), std::string::npos) << text;
  EXPECT_NE(text.find("\nprocess_cpu_seconds_total "), std::string::npos) << text;
  // This test process has a resident set of more than a megabyte.
  const auto at = text.find("\nprocess_resident_memory_bytes ") + 31;
  EXPECT_GT(std::stod(text.substr(at)), 1e6);
}

}  // namespace
}  // namespace derp::main
