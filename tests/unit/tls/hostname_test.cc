// -hostname interpretation (spec §1.2, §9.2).
#include "relay/tls/hostname.h"

#include <gtest/gtest.h>

namespace derp::tls {
namespace {

TEST(Hostname, IpLiterals) {
  EXPECT_TRUE(is_ip_literal("127.0.0.1"));
  EXPECT_TRUE(is_ip_literal("::1"));
  EXPECT_TRUE(is_ip_literal("2001:db8::1"));
  EXPECT_TRUE(is_ip_literal("::ffff:1.2.3.4"));
  EXPECT_FALSE(is_ip_literal("[::1]"));
  EXPECT_FALSE(is_ip_literal("127.0.0.1:8443"));
  EXPECT_FALSE(is_ip_literal("127.000.0.1"));
  EXPECT_FALSE(is_ip_literal("derp.example.com"));
  EXPECT_FALSE(is_ip_literal(""));
}

struct HostCase {
  const char* configured;
  const char* host;
  bool is_ip;
  bool had_port;
  const char* stem;
};

TEST(Hostname, ParseTable) {
  const HostCase cases[] = {
      {"derp.example.com", "derp.example.com", false, false, "derp.example.com"},
      {"derp.example.com:8443", "derp.example.com", false, true, "derp.example.com"},
      {"127.0.0.1", "127.0.0.1", true, false, "127.0.0.1"},
      {"127.0.0.1:8443", "127.0.0.1", true, true, "127.0.0.1"},
      {"::1", "::1", true, false, "1"},
      {"2001:db8::1", "2001:db8::1", true, false, "2001db81"},
      {"[2001:db8::1]:443", "2001:db8::1", true, true, "2001db81"},
      {"[::1]", "::1", true, false, "1"},
      {"under_score.example", "under_score.example", false, false, "underscore.example"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.configured);
    TlsHostname h = parse_tls_hostname(c.configured);
    EXPECT_EQ(h.host, c.host);
    EXPECT_EQ(h.is_ip, c.is_ip);
    EXPECT_EQ(h.had_port, c.had_port);
    EXPECT_EQ(cert_file_stem(h.host), c.stem);
  }
}

TEST(Hostname, SniLikeGo) {
  EXPECT_EQ(sni_for("derp.example.com"), "derp.example.com");
  EXPECT_EQ(sni_for("derp.example.com."), "derp.example.com");
  EXPECT_EQ(sni_for("127.0.0.1"), "");
  EXPECT_EQ(sni_for("::1"), "");
  EXPECT_EQ(sni_for("[::1]"), "");
  EXPECT_EQ(sni_for("fe80::1%eth0"), "");
}

}  // namespace
}  // namespace derp::tls
