// What the front derives from a peer's address (relay/http/peer_address.h): the admin API's remote
// text and key bytes, and who may read /debug (protocol §1.7).
#include <gtest/gtest.h>

#include "relay/http/peer_address.h"

namespace derp::http {
namespace {

namespace ip = boost::asio::ip;

bool debug_ok(const char* address) {
  return debug_access_allowed(ip::make_address(address));
}

TEST(PeerAddress, DebugIsForLoopbackAndTailscaleAddressesOnly) {
  for (const char* yes :
       {"127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "100.64.0.1", "100.127.255.254",
        "100.115.91.255", "100.115.94.0", "fd7a:115c:a1e0::5", "::ffff:100.100.100.100"}) {
    EXPECT_TRUE(debug_ok(yes)) << yes;
  }
  for (const char* no : {"100.115.92.1", "100.115.93.255", "100.63.255.255", "100.128.0.0",
                         "192.0.2.1", "fd7a:115c:a1e1::5", "2001:db8::1", "::ffff:192.0.2.1"}) {
    EXPECT_FALSE(debug_ok(no)) << no;
  }
}

TEST(PeerAddress, OperatorsTrustMoreThroughDerpersVariables) {
  std::vector<std::string> warnings;
  auto trusted = trusted_debug_prefixes("192.0.2.9", "10.0.0.0/8, 2001:db8::/32,bogus,", warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("TS_DEBUG_TRUSTED_CIDRS: \"bogus\""), std::string::npos)
      << warnings[0];
  for (const char* yes :
       {"192.0.2.9", "::ffff:192.0.2.9", "10.1.2.3", "2001:db8::7", "127.0.0.1"}) {
    EXPECT_TRUE(debug_access_allowed(ip::make_address(yes), trusted)) << yes;
  }
  for (const char* no : {"192.0.2.10", "11.0.0.1", "2001:db9::1"}) {
    EXPECT_FALSE(debug_access_allowed(ip::make_address(no), trusted)) << no;
  }
  EXPECT_TRUE(trusted_debug_prefixes(nullptr, nullptr, warnings).empty());
}

TEST(PeerAddress, ConnectionInfoSpellsIpv4PlainAndIpv6Bracketed) {
  auto v4 = connection_info_for({ip::make_address("::ffff:192.0.2.7"), 4242});
  EXPECT_EQ(v4.remote_text, "192.0.2.7:4242");
  EXPECT_EQ(v4.remote_port, 4242);
  const std::array<std::uint8_t, 16> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
  EXPECT_EQ(v4.remote_ip, mapped);
  EXPECT_EQ(connection_info_for({ip::make_address("192.0.2.7"), 1}).remote_ip, mapped);
  auto v6 = connection_info_for({ip::make_address("2001:db8::1"), 443});
  EXPECT_EQ(v6.remote_text, "[2001:db8::1]:443");
  EXPECT_EQ(v6.remote_ip[0], 0x20);
}

}  // namespace
}  // namespace derp::http
