// /bootstrap-dns's body and its background resolution (relay/main/bootstrap_dns.h), with a
// resolver of the test's own: no DNS.
#include "relay/main/bootstrap_dns.h"

#include <gtest/gtest.h>

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
  BootstrapDns dns({"a.example", "b.example"}, std::chrono::milliseconds(5), &fake_resolver);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (g_lookups < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_GE(g_lookups, 3) << "refreshes ran";
  const auto body = dns.body();
  EXPECT_NE(body.find("\"a.example\""), std::string::npos) << body;
  for (const char* ip : {"192.0.2.1", "192.0.2.2", "2001:db8::1"}) {
    EXPECT_NE(body.find(ip), std::string::npos) << body;
  }
  EXPECT_EQ(body.find("b.example"), std::string::npos) << body;
  EXPECT_EQ(dns.requests(), 1u);
}

}  // namespace
}  // namespace derp::main
