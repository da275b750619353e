// CIDR lists from the command line (relay/transport/ip_prefix.h).
#include <gtest/gtest.h>

#include <stdexcept>

#include "relay/transport/ip_prefix.h"

namespace derp::transport {
namespace {

namespace ip = boost::asio::ip;

bool in(const char* prefix, const char* address) {
  auto p = IpPrefix::parse(prefix);
  EXPECT_TRUE(p) << prefix;
  return p && p->contains(ip::make_address(address));
}

TEST(IpPrefix, MatchesAddressesInsideTheRangeOnly) {
  EXPECT_TRUE(in("127.0.0.0/8", "127.9.8.7"));
  EXPECT_FALSE(in("127.0.0.0/8", "128.0.0.1"));
  EXPECT_TRUE(in("10.1.2.0/23", "10.1.3.255"));
  EXPECT_FALSE(in("10.1.2.0/23", "10.1.4.0"));
  EXPECT_TRUE(in("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(in("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(in("0.0.0.0/0", "203.0.113.9"));
}

TEST(IpPrefix, BareAddressIsOneHost) {
  EXPECT_TRUE(in("192.0.2.7", "192.0.2.7"));
  EXPECT_FALSE(in("192.0.2.7", "192.0.2.8"));
  EXPECT_TRUE(in("::1", "::1"));
  EXPECT_FALSE(in("::1", "::2"));
}

TEST(IpPrefix, Ipv4PrefixMatchesV4MappedPeersOfADualStackSocket) {
  EXPECT_TRUE(in("127.0.0.0/8", "::ffff:127.0.0.1"));
  EXPECT_FALSE(in("127.0.0.0/8", "::ffff:10.0.0.1"));
  // An IPv4 /0 must not swallow native IPv6 peers.
  EXPECT_FALSE(in("0.0.0.0/0", "2001:db8::1"));
}

TEST(IpPrefix, HostBitsAreIgnoredAndPrintedCanonically) {
  auto p = IpPrefix::parse("10.1.2.3/8");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->to_string(), "10.0.0.0/8");
  EXPECT_EQ(IpPrefix::parse("2001:db8::5/64")->to_string(), "2001:db8::/64");
}

TEST(IpPrefix, MalformedEntriesAreRejected) {
  for (const char* bad : {"", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8x", "host.example",
                          "10.0.0.0/-1", "/8"}) {
    EXPECT_FALSE(IpPrefix::parse(bad)) << bad;
  }
}

TEST(IpPrefixList, ParsesCommaOrSpaceSeparatedAndNamesTheBadEntry) {
  auto list = parse_prefix_list("127.0.0.0/8, ::1  10.0.0.0/8,");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_TRUE(any_contains(list, ip::make_address("10.20.30.40")));
  EXPECT_FALSE(any_contains(list, ip::make_address("11.0.0.1")));
  EXPECT_TRUE(parse_prefix_list("").empty());
  try {
    parse_prefix_list("127.0.0.0/8,nonsense");
    FAIL() << "accepted a bad entry";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("\"nonsense\""), std::string::npos) << e.what();
  }
}

TEST(AddressKey, Ipv4AndItsV4MappedFormAreOnePeer) {
  EXPECT_EQ(address_key(ip::make_address("192.0.2.1")),
            address_key(ip::make_address("::ffff:192.0.2.1")));
  EXPECT_NE(address_key(ip::make_address("192.0.2.1")), address_key(ip::make_address("192.0.2.2")));
}

}  // namespace
}  // namespace derp::transport
