// /bootstrap-dns's body and its background resolution (relay/main/bootstrap_dns.h), with a
// resolver of the test's own: no DNS.
#include "relay/main/bootstrap_dns.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <thread>

namespace derp::main {
namespace {

TEST(BootstrapDns, BodyIsTheReferencesTabIndentedObject) {
  EXPECT_EQ(bootstrap_dns_body({}, false), "");
  EXPECT_EQ(bootstrap_dns_body({}, true), "{}\n");
  EXPECT_EQ(bootstrap_dns_body({{"derp.example.com", {"192.0.2.1", "2001:db8::1"}}}, true),
            "{\n\t\"derp.example.com\": [\n\t\t\"192.0.2.1\",\n\t\t\"2001:db8::1\"\n\t]\n}\n");
}

TEST(BootstrapDns, NamesAreSplitAtCommas) {
  EXPECT_EQ(split_names(" a.example, b.example,,c.example "),
            (std::vector<std::string>{"a.example", "b.example", "c.example"}));
  EXPECT_TRUE(split_names("").empty());
  EXPECT_TRUE(split_names(" , ").empty());
}

std::atomic<int> g_lookups{0};

// a.example resolves the first time only; b.example never does.
std::vector<std::string> fake_resolver(const std::string& name, std::string& error) {
  if (name == "a.example" && g_lookups++ == 0) return {"192.0.2.1", "192.0.2.2", "2001:db8::1"};
  error = "no such host";
  return {};
}

TEST(BootstrapDns, AFailedRefreshKeepsTheLastAddresses) {
  g_lookups = 0;
  BootstrapDns::Config config;
  config.published = {"a.example", "b.example"};
  config.refresh_every = std::chrono::milliseconds(5);
  config.resolve = &fake_resolver;
  BootstrapDns dns(config);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (g_lookups < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_GE(g_lookups, 3) << "refreshes ran";
  const auto body = dns.body("", {});
  EXPECT_NE(body.find("\"a.example\""), std::string::npos) << body;
  for (const char* ip : {"192.0.2.1", "192.0.2.2", "2001:db8::1"}) {
    EXPECT_NE(body.find(ip), std::string::npos) << body;
  }
  EXPECT_EQ(body.find("b.example"), std::string::npos) << body;
  EXPECT_EQ(dns.requests(), 1u);
}

constexpr std::array<std::uint8_t, 16> v4(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                                          std::uint8_t d) {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

TEST(BootstrapDns, UnpublishedNamesAreSplitFromTheirTxtName) {
  auto u = split_unpublished_names("a.example, b.example/rollout.example");
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[0].name, "a.example");
  EXPECT_EQ(u[0].txt_name, "");
  EXPECT_EQ(u[1].name, "b.example");
  EXPECT_EQ(u[1].txt_name, "rollout.example");
}

TEST(BootstrapDns, TheTxtRecordIsAPercentageAndAnythingElseIsZero) {
  EXPECT_EQ(rollout_percent("25"), 25);
  EXPECT_EQ(rollout_percent(" 100 "), 100);
  EXPECT_EQ(rollout_percent("0"), 0);
  for (const char* bad : {"", "101", "-5", "12%", "1e2", "ten"}) {
    EXPECT_EQ(rollout_percent(std::string(bad)), 0) << bad;
  }
  EXPECT_EQ(rollout_percent(std::nullopt), 0);
}

TEST(BootstrapDns, RolloutIsAStableShareOfClientAddresses) {
  int in_at_30 = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto ip = v4(198, 51, static_cast<std::uint8_t>(i / 256), static_cast<std::uint8_t>(i));
    EXPECT_FALSE(in_rollout(ip, 0));
    EXPECT_TRUE(in_rollout(ip, 100));
    EXPECT_EQ(in_rollout(ip, 30), in_rollout(ip, 30));
    if (in_rollout(ip, 30)) {
      ++in_at_30;
      EXPECT_TRUE(in_rollout(ip, 31)) << "raising the share keeps those already in";
    }
  }
  EXPECT_GT(in_at_30, 230);
  EXPECT_LT(in_at_30, 370);
  // Loopback clients count as 50 % whatever the record says.
  EXPECT_EQ(in_rollout(v4(127, 0, 0, 1), 0), in_rollout(v4(127, 0, 0, 1), 100));
}

std::vector<std::string> fixed_resolver(const std::string& name, std::string&) {
  if (name == "pub.example") return {"192.0.2.1"};
  if (name == "all.example") return {"192.0.2.2"};
  if (name == "none.example" || name == "half.example") return {"192.0.2.3"};
  return {};
}
std::optional<std::string> fixed_txt(const std::string& name) {
  if (name == "zero.example") return "0";
  if (name == "half.example") return "50";
  return std::nullopt;
}

TEST(BootstrapDns, AnUnpublishedNameIsAnsweredOnlyToQueriesOfClientsInItsRollout) {
  BootstrapDns::Config config;
  config.published = {"pub.example"};
  config.unpublished = {
      {"all.example", ""}, {"none.example", "zero.example"}, {"half.example", "half.example"}};
  config.refresh_every = std::chrono::hours(1);
  config.resolve = &fixed_resolver;
  config.resolve_txt = &fixed_txt;
  BootstrapDns dns(config);
  const std::string published = "{\n\t\"pub.example\": [\n\t\t\"192.0.2.1\"\n\t]\n}\n";
  const auto client = v4(198, 51, 100, 7);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (dns.refreshes() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_GE(dns.refreshes(), 1u);
  EXPECT_EQ(dns.body("all.example", client),
            "{\n\t\"all.example\": [\n\t\t\"192.0.2.2\"\n\t]\n}\n");
  EXPECT_EQ(dns.body("none.example", client), published);  // rolled out to 0 %
  EXPECT_EQ(dns.body("", client), published);              // never without ?q=
  EXPECT_EQ(dns.body("pub.example", client), published);
  EXPECT_EQ(dns.body("other.example", client), published);
  EXPECT_EQ(dns.body("half.example", client).find("192.0.2.3") != std::string::npos,
            in_rollout(client, 50));
  const auto m = dns.metrics_text();
  const int percent_misses = in_rollout(client, 50) ? 1 : 2;  // none.example, maybe half.example
  EXPECT_NE(
      m.find("bootstrap_dns_unpublished_percent_misses " + std::to_string(percent_misses) + "\n"),
      std::string::npos)
      << m;
  EXPECT_NE(m.find("bootstrap_dns_published_hits 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("bootstrap_dns_queried_domains 5\n"), std::string::npos) << m;
}

TEST(BootstrapDns, QueriedDomainsStayBounded) {
  BootstrapDns::Config config;
  config.unpublished = {{"all.example", ""}};
  config.resolve = &fixed_resolver;
  BootstrapDns dns(config);
  for (int i = 0; i < 2000; ++i) (void)dns.body("n" + std::to_string(i) + ".example", {});
  const auto m = dns.metrics_text();
  EXPECT_NE(m.find("bootstrap_dns_requests 2000\n"), std::string::npos) << m;
  const std::string line = "\nbootstrap_dns_queried_domains ";
  const auto at = m.find(line);
  ASSERT_NE(at, std::string::npos) << m;
  EXPECT_LE(std::stoul(m.substr(at + line.size())), BootstrapDns::kMaxQueriedDomains);
}

}  // namespace
}  // namespace derp::main
