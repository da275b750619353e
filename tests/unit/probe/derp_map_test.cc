// The DERP map as derpctl probe reads it: Go's encoding/json rules (names in any case, unknown
// fields ignored, null as zero), derpprobe's duplicate-name rule, and clear errors.
#include "derpctl/probe/derp_map.h"

#include <gtest/gtest.h>

namespace derpctl::probe {
namespace {

// The map of protocol Appendix A.
constexpr const char* kAppendixMap = R"({
  "Regions": {
    "900": {
      "RegionID": 900, "RegionCode": "test", "RegionName": "Test Region",
      "Nodes": [
        {"Name": "900a", "RegionID": 900, "HostName": "derp1.example.com",
         "IPv4": "192.0.2.10", "IPv6": "2001:db8::10",
         "STUNPort": 3478, "DERPPort": 443, "CanPort80": true},
        {"Name": "900b", "RegionID": 900, "HostName": "derp2.example.com",
         "IPv4": "192.0.2.11", "IPv6": "none", "InsecureForTests": true}
      ]
    }
  },
  "omitDefaultRegions": true
})";

TEST(DerpMap, ReadsTheAppendixMap) {
  auto r = parse_derp_map(kAppendixMap);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.map.regions.size(), 1u);
  const auto& region = r.map.regions[0];
  EXPECT_EQ(region.id, 900);
  EXPECT_EQ(region.code, "test");
  ASSERT_EQ(region.nodes.size(), 2u);
  EXPECT_EQ(region.nodes[0].name, "900a");
  EXPECT_EQ(region.nodes[0].ipv6, "2001:db8::10");
  EXPECT_EQ(region.nodes[0].derp_url(), "https://derp1.example.com/derp");
  EXPECT_FALSE(region.nodes[0].insecure_for_tests);
  EXPECT_EQ(region.nodes[1].ipv6, "none");
  EXPECT_TRUE(region.nodes[1].insecure_for_tests);
  EXPECT_EQ(region.nodes[1].effective_stun_port(), 3478);  // 0 means 3478
  EXPECT_EQ(region.nodes[1].effective_derp_port(), 443);   // 0 means 443
}

TEST(DerpMap, MatchesFieldNamesWithoutRegardToCaseAsGoDoes) {
  auto r = parse_derp_map(
      R"({"regions":{"7":{"regionid":7,"REGIONCODE":"x","nodes":[{"name":"n","hostname":"h",)"
      R"("derpport":8443,"stunport":-1,"stunonly":false,"Unknown":[1,2]}]}}})");
  ASSERT_EQ(r.error, "");
  const auto& node = r.map.regions.at(0).nodes.at(0);
  EXPECT_EQ(r.map.regions[0].code, "x");
  EXPECT_EQ(node.derp_port, 8443);
  EXPECT_EQ(node.stun_port, -1);
  EXPECT_EQ(node.region_id, 7);  // taken from its region when the node omits it
  EXPECT_EQ(node.derp_url(), "https://h:8443/derp");
}

TEST(DerpMap, KeepsRegionsInIdOrderAndNodesInMapOrder) {
  auto r = parse_derp_map(R"({"Regions":{"20":{"RegionID":20,"Nodes":[{"Name":"z","HostName":"z"},)"
                          R"({"Name":"a","HostName":"a"}]},"3":{"RegionID":3,"Nodes":[]}}})");
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.map.regions.size(), 2u);
  EXPECT_EQ(r.map.regions[0].id, 3);
  EXPECT_EQ(r.map.regions[1].code, "20");  // no RegionCode: the ID names it
  EXPECT_EQ(r.map.regions[1].nodes[0].name, "z");
}

TEST(DerpMap, RefusesWhatWouldMakeProbesMeaninglessWithTheReason) {
  struct Case {
    const char* text;
    const char* error_part;
  };
  for (const Case& c : {
           Case{"", "not valid JSON"},
           Case{"[]", "must be an object"},
           Case{R"({"Regions":{}})", "no regions"},
           Case{R"({"Regions":{"x":{"RegionID":1}}})", "not a region number"},
           Case{R"({"Regions":{"1":{"RegionID":2}}})", "has RegionID 2"},
           Case{R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"a","HostName":"h"},)"
                R"({"Name":"a","HostName":"h2"}]}}})",
                "\"a\" is used twice"},
           Case{R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"a"}]}}})", "no HostName"},
           Case{R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"a","HostName":"h",)"
                R"("DERPPort":"443"}]}}})",
                "DERPPort must be a whole number"},
           Case{R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"a","HostName":"h",)"
                R"("STUNPort":70000}]}}})",
                "STUNPort 70000"},
           Case{R"({"Regions":{"1":{"RegionID":1,"Nodes":{"Name":"a"}}}})", "must be an array"},
       }) {
    auto r = parse_derp_map(c.text);
    EXPECT_NE(r.error.find(c.error_part), std::string::npos) << c.text << " → " << r.error;
    EXPECT_TRUE(r.map.regions.empty()) << c.text;
  }
}

TEST(DerpMap, NodeFlagStandsForAOneNodeMap) {
  auto tls = single_node_map("https://derp.example.com", 3478);
  ASSERT_EQ(tls.error, "");
  const auto& n = tls.map.regions.at(0).nodes.at(0);
  EXPECT_EQ(n.host_name, "derp.example.com");
  EXPECT_EQ(n.derp_url(), "https://derp.example.com/derp");
  EXPECT_FALSE(n.plain_http);
  EXPECT_EQ(n.ipv4, "");  // a name: addresses come from DNS

  auto bare = single_node_map("derp.example.com:8443", -1);
  ASSERT_EQ(bare.error, "");
  EXPECT_EQ(bare.map.regions[0].nodes[0].derp_url(), "https://derp.example.com:8443/derp");

  auto dev = single_node_map("http://127.0.0.1:3340", 3478);
  ASSERT_EQ(dev.error, "");
  const auto& d = dev.map.regions[0].nodes[0];
  EXPECT_TRUE(d.plain_http);
  EXPECT_EQ(d.derp_url(), "http://127.0.0.1:3340/derp");
  EXPECT_EQ(d.ipv4, "127.0.0.1");
  EXPECT_EQ(d.ipv6, "none");

  auto v6 = single_node_map("https://[::1]:443", 3478);
  ASSERT_EQ(v6.error, "");
  EXPECT_EQ(v6.map.regions[0].nodes[0].ipv6, "::1");
  EXPECT_EQ(v6.map.regions[0].nodes[0].derp_url(), "https://[::1]/derp");

  EXPECT_NE(single_node_map("ftp://x", 3478).error, "");
  EXPECT_NE(single_node_map("wss://x", 3478).error, "");
}

TEST(DerpMap, ResolvedAddressesFillANamedNode) {
  DerpNode n;
  n.host_name = "derp.example.com";
  fill_node_addresses(n, {"2001:db8::1", "192.0.2.1", "192.0.2.2"});
  EXPECT_EQ(n.ipv4, "192.0.2.1");
  EXPECT_EQ(n.ipv6, "2001:db8::1");
  DerpNode v4_only;
  fill_node_addresses(v4_only, {"192.0.2.1"});
  EXPECT_EQ(v4_only.ipv6, "none");
}

}  // namespace
}  // namespace derpctl::probe
