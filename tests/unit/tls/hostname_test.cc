// -hostname interpretation (protocol §1.2, §9.2).
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
  const char* stem;
};

TEST(Hostname, ParseTable) {
  const HostCase cases[] = {
      {"derp.example.com", "derp.example.com", false, "derp.example.com"},
      // With a port, the whole text is the name (derper's manual mode): files 127.0.0.18443.crt.
      {"derp.example.com:8443", "derp.example.com:8443", false, "derp.example.com8443"},
      {"127.0.0.1", "127.0.0.1", true, "127.0.0.1"},
      {"127.0.0.1:8443", "127.0.0.1:8443", false, "127.0.0.18443"},
      {"::1", "::1", true, "1"},
      {"2001:db8::1", "2001:db8::1", true, "2001db81"},
      {"[2001:db8::1]:443", "[2001:db8::1]:443", false, "2001db81443"},
      {"under_score.example", "under_score.example", false, "underscore.example"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.configured);
    TlsHostname h = parse_tls_hostname(c.configured);
    EXPECT_EQ(h.host, c.host);
    EXPECT_EQ(h.is_ip, c.is_ip);
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
