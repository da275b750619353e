#include <gtest/gtest.h>

#include "mesh/mesh_peers.h"

namespace derp::mesh {
namespace {

TEST(MeshWith, EveryForm) {
  auto peers = parse_mesh_with(
      " derp1.example.com, derp2.example.com:8443 ,derp3.example.com/10.0.0.3,"
      "http://127.0.0.2:3340,,https://[::1]:8443/derp",
      "derp9.example.com");
  ASSERT_EQ(peers.size(), 5u);
  EXPECT_EQ(peers[0].url, "https://derp1.example.com/derp");
  EXPECT_EQ(peers[0].tls_server_name, "derp1.example.com");
  EXPECT_EQ(peers[1].url, "https://derp2.example.com:8443/derp");
  EXPECT_EQ(peers[1].tls_server_name, "derp2.example.com");
  EXPECT_EQ(peers[2].url, "https://derp3.example.com/derp");
  EXPECT_EQ(peers[2].dial_host, "10.0.0.3");
  EXPECT_EQ(peers[2].tls_server_name, "derp3.example.com");
  EXPECT_EQ(peers[3].url, "http://127.0.0.2:3340/derp");
  EXPECT_EQ(peers[4].url, "https://[::1]:8443/derp");
  EXPECT_EQ(peers[4].tls_server_name, "::1");
}

TEST(MeshWith, SkipsThisNode) {
  auto peers = parse_mesh_with("derp1.example.com,derp2.example.com", "derp1.example.com");
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].name, "derp2.example.com");
}

TEST(MeshWith, RefusesMalformedEntries) {
  EXPECT_THROW(parse_mesh_with("host/", ""), std::runtime_error);
  EXPECT_THROW(parse_mesh_with("host/a/b", ""), std::runtime_error);
  EXPECT_THROW(parse_mesh_with("/dial", ""), std::runtime_error);
}

}  // namespace
}  // namespace derp::mesh
