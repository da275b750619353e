// The exported names of protocol §8.3, in both forms.
#include <gtest/gtest.h>

#include "stun/stun_metrics.h"

namespace derp::stun {
namespace {

StunCounters sample() {
  StunCounters c;
  c.success = 5;
  c.not_stun = 3;
  c.read_error = 1;
  c.write_error = 2;
  c.ipv4 = 4;
  c.ipv6 = 3;
  c.answered_tailscale = 4;
  c.answered_generic = 1;
  c.dropped[static_cast<std::size_t>(DropReason::kBadCookie)] = 2;
  c.dropped[static_cast<std::size_t>(DropReason::kDraining)] = 7;
  return c;
}

TEST(StunMetrics, PrometheusUsesReferenceNames) {
  const std::string text = to_prometheus(sample());
  for (const char* line : {
           "# TYPE stun_requests counter\n",
           "stun_requests{disposition=\"success\"} 5\n",
           "stun_requests{disposition=\"not_stun\"} 3\n",
           "stun_requests{disposition=\"read_error\"} 1\n",
           "stun_requests{disposition=\"write_error\"} 2\n",
           "# TYPE stun_addrfamily counter\n",
           "stun_addrfamily{family=\"ipv4\"} 4\n",
           "stun_addrfamily{family=\"ipv6\"} 3\n",
           "# TYPE stun_dropped counter\n",
           "stun_dropped{reason=\"bad_cookie\"} 2\n",
           "stun_dropped{reason=\"draining\"} 7\n",
           "stun_dropped{reason=\"short\"} 0\n",
           "stun_answered{form=\"generic\"} 1\n",
       })
    EXPECT_NE(text.find(line), std::string::npos) << line << "in:\n" << text;
  EXPECT_EQ(text.find("reason=\"none\""), std::string::npos);
}

TEST(StunMetrics, ExpvarLayout) {
  const auto j = to_expvar(sample());
  EXPECT_EQ(j["counter_requests"]["success"], 5);
  EXPECT_EQ(j["counter_requests"]["not_stun"], 3);
  EXPECT_EQ(j["counter_requests"]["read_error"], 1);
  EXPECT_EQ(j["counter_requests"]["write_error"], 2);
  EXPECT_EQ(j["counter_addrfamily"]["ipv4"], 4);
  EXPECT_EQ(j["counter_addrfamily"]["ipv6"], 3);
  EXPECT_EQ(j["counter_answered"]["tailscale"], 4);
  EXPECT_EQ(j["counter_dropped"]["draining"], 7);
  EXPECT_FALSE(j["counter_dropped"].contains("none"));
}

TEST(StunMetrics, CountersAdd) {
  StunCounters a = sample();
  a += sample();
  EXPECT_EQ(a.success, 10u);
  EXPECT_EQ(a.dropped_for(DropReason::kDraining), 14u);
}

}  // namespace
}  // namespace derp::stun
