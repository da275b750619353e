// Which probes a map calls for, with derpprobe's names and labels.
#include "derpctl/probe/probe_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace derpctl::probe {
namespace {

DerpMap two_node_map() {
  auto r = parse_derp_map(
      R"({"Regions":{"900":{"RegionID":900,"RegionCode":"fra","Nodes":[)"
      R"({"Name":"900a","HostName":"a.example","IPv4":"192.0.2.1","IPv6":"2001:db8::1"},)"
      R"({"Name":"900b","HostName":"b.example","IPv4":"192.0.2.2","IPv6":"none"},)"
      R"({"Name":"900s","HostName":"s.example","IPv4":"192.0.2.3","STUNOnly":true}]},)"
      R"("901":{"RegionID":901,"RegionCode":"nyc","Nodes":[)"
      R"({"Name":"901a","HostName":"n.example","IPv4":"192.0.2.9","STUNPort":-1}]}}})");
  EXPECT_EQ(r.error, "");
  return r.map;
}

std::vector<std::string> names(const Plan& p) {
  std::vector<std::string> out;
  for (const auto& s : p.probes) out.push_back(s.name);
  return out;
}

bool has(const Plan& p, const std::string& name) {
  auto n = names(p);
  return std::find(n.begin(), n.end(), name) != n.end();
}

TEST(ProbePlan, NamesEveryProbeAsDerpprobeDoes) {
  auto plan = plan_probes(two_node_map(), ProbeSelection{});
  ASSERT_EQ(plan.error, "");
  for (const char* name :
       {"derp/fra/900a/tls", "derp/fra/900a/udp", "derp/fra/900a/udp6", "derp/fra/900b/tls",
        "derp/fra/900b/udp", "derp/fra/900s/udp", "derp/fra/900a/900a/mesh",
        "derp/fra/900a/900b/mesh", "derp/fra/900b/900a/mesh", "derp/fra/900b/900b/mesh",
        "derp/nyc/901a/tls", "derp/nyc/901a/901a/mesh"}) {
    EXPECT_TRUE(has(plan, name)) << name;
  }
  EXPECT_FALSE(has(plan, "derp/fra/900b/udp6"));  // IPv6 "none"
  EXPECT_FALSE(has(plan, "derp/fra/900s/udp6"));  // IPv6 "": derpprobe needs a literal
  EXPECT_FALSE(has(plan, "derp/fra/900s/tls"));   // STUN only
  EXPECT_FALSE(has(plan, "derp/fra/900s/900s/mesh"));
  EXPECT_FALSE(has(plan, "derp/nyc/901a/udp"));  // STUNPort -1
  EXPECT_EQ(plan.probes.size(), 12u);
}

TEST(ProbePlan, LabelsSayClassPathAndFamily) {
  auto plan = plan_probes(two_node_map(), ProbeSelection{});
  for (const auto& s : plan.probes) {
    if (s.name == "derp/fra/900a/udp6") {
      EXPECT_STREQ(class_label(s.cls), "derp_udp");
      EXPECT_EQ(s.address_family(), "ipv6");
      EXPECT_EQ(s.derp_path(), "");
    }
    if (s.name == "derp/fra/900a/900b/mesh") {
      EXPECT_STREQ(class_label(s.cls), "derp_mesh");
      EXPECT_EQ(s.derp_path(), "mesh");
      EXPECT_EQ(s.from.name, "900a");
      EXPECT_EQ(s.to.name, "900b");
      EXPECT_EQ(s.region_id, 900);
    }
    if (s.name == "derp/fra/900a/900a/mesh") {
      EXPECT_EQ(s.derp_path(), "single");
    }
  }
}

TEST(ProbePlan, SelectsClassesAndRegions) {
  ProbeSelection s;
  ASSERT_EQ(parse_probe_list("bw,qd", s), "");
  s.region = "901";
  auto plan = plan_probes(two_node_map(), s);
  EXPECT_EQ(names(plan),
            (std::vector<std::string>{"derp/nyc/901a/901a/bw", "derp/nyc/901a/901a/qd"}));
  s.region = "fra";
  EXPECT_EQ(plan_probes(two_node_map(), s).probes.size(), 8u);  // 2 nodes: 4 pairs × 2
  s.region = "lhr";
  EXPECT_NE(plan_probes(two_node_map(), s).error.find("no region"), std::string::npos);
  EXPECT_NE(parse_probe_list("tls,ping", s).find("unknown probe \"ping\""), std::string::npos);
  EXPECT_NE(parse_probe_list("", s), "");
}

}  // namespace
}  // namespace derpctl::probe
