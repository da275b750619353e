// The HTTP endpoints of protocol §1.5–§1.7 over raw HTTP/1.1, and the port-80 listener of TLS mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "relay/tls/test_ca.h"
#include "tests/support/async_runner.h"
#include "tests/support/client_checks.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_text.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;

void expect_browser_headers(const HttpResponse& r) {
  EXPECT_EQ(r.header("strict-transport-security"), "max-age=63072000; includeSubDomains");
  EXPECT_EQ(r.header("content-security-policy"),
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'; "
            "block-all-mixed-content; object-src 'none'");
  EXPECT_EQ(r.header("x-frame-options"), "DENY");
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
}

class HttpEndpoints : public ::testing::Test {
 protected:
  HttpEndpoints() : derpd_({"-a", "127.0.0.1:0", "--stun=false", "-c", dir_.path() + "/key"}) {}
  HttpResponse get(const std::string& target, const std::string& extra = "") {
    return http_request(derpd_.port(), "GET", target, extra);
  }

  TempDir dir_;
  DerpdProcess derpd_;
};

TEST_F(HttpEndpoints, ProbeAndLatencyCheck) {
  for (std::string path : {"/derp/probe", "/derp/latency-check"}) {
    for (std::string method : {"GET", "HEAD"}) {
      auto r = http_request(derpd_.port(), method, path);
      EXPECT_EQ(r.status, 200) << method << " " << path;
      EXPECT_EQ(r.header("access-control-allow-origin"), "*") << method << " " << path;
      EXPECT_TRUE(r.body.empty()) << method << " " << path;
    }
    for (std::string method : {"POST", "PUT"}) {
      auto r = http_exchange(derpd_.port(), method + " " + path +
                                                " HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                                "0\r\nConnection: close\r\n\r\n");
      EXPECT_EQ(r.status, 405) << method << " " << path;
      EXPECT_EQ(r.body, "bogus probe method\n");
    }
  }
}

TEST_F(HttpEndpoints, Generate204AndItsChallenge) {
  auto r = get("/generate_204", "X-Tailscale-Challenge: ts_192.0.2.1\r\n");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("x-tailscale-response"), "response ts_192.0.2.1");
  EXPECT_EQ(r.header("cache-control"),
            "no-cache, no-store, must-revalidate, no-transform, max-age=0");
  EXPECT_TRUE(r.body.empty());

  r = get("/generate_204", "X-Tailscale-Challenge: ts_host:with-colon_1.2\r\n");
  EXPECT_EQ(r.header("x-tailscale-response"), "response ts_host:with-colon_1.2");

  for (std::string bad :
       {std::string("ts_bad challenge"), std::string("ts_<script>"), std::string(65, 'a')}) {
    r = get("/generate_204", "X-Tailscale-Challenge: " + bad + "\r\n");
    EXPECT_EQ(r.status, 204) << bad;
    EXPECT_FALSE(r.has("x-tailscale-response")) << bad;
  }
  r = get("/generate_204", "X-Tailscale-Challenge: " + std::string(64, 'a') + "\r\n");
  EXPECT_EQ(r.header("x-tailscale-response"), "response " + std::string(64, 'a'));
  r = get("/generate_204");
  EXPECT_EQ(r.status, 204);
  EXPECT_FALSE(r.has("x-tailscale-response"));
}

TEST_F(HttpEndpoints, RobotsAndHomePage) {
  auto r = get("/robots.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "User-agent: *\nDisallow: /\n");
  expect_browser_headers(r);

  for (std::string path : {"/", "/some/other/path"}) {
    r = get(path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8") << path;
    EXPECT_NE(r.body.find("DERP"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("Status: disabled"), std::string::npos) << path;
    expect_browser_headers(r);
  }
}

TEST_F(HttpEndpoints, DerpWithoutUpgradeIs426) {
  auto r = get("/derp");
  EXPECT_EQ(r.status, 426);
  EXPECT_EQ(r.body, "DERP requires connection upgrade\n");
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
  // The method is not checked; an unknown Upgrade is no upgrade; the query is ignored.
  r = http_exchange(derpd_.port(),
                    "POST /derp?x=1 HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: "
                    "Upgrade, close\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.status, 426);
  EXPECT_EQ(r.body, "DERP requires connection upgrade\n");
}

TEST_F(HttpEndpoints, DebugVarzHasTheReferenceNames) {
  auto r = get("/debug/varz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/plain;version=0.0.4;charset=utf-8");
  auto m = fetch_varz(derpd_.port());
  EXPECT_TRUE(m.contains("derp_accepts"));
  for (std::string name :
       {"derp_current_connections", "derp_current_home_connections", "derp_clients_total",
        "derp_current_dup_client_keys", "derp_sclient_write_timeouts", "derp_got_ping",
        "derp_sent_pong", "derp_packets_sent", "derp_packets_received", "derp_bytes_sent",
        "derp_bytes_received", "derp_watchers"}) {
    EXPECT_TRUE(m.contains(name)) << name;
  }
  int combos = 0;
  for (std::string reason : {"unknown_dest", "unknown_dest_on_fwd", "gone_disconnected",
                             "queue_head", "queue_tail", "write_error", "dup_client"}) {
    for (std::string kind : {"disco", "other"}) {
      auto name = packets_dropped(reason, kind);
      EXPECT_TRUE(m.contains(name)) << name;
      if (m.contains(name)) {
        ++combos;
        EXPECT_EQ(m[name], 0) << name;
      }
      EXPECT_TRUE(m.contains("derp_bytes_dropped{reason=\"" + reason + "\",kind=\"" + kind + "\"}"))
          << reason << " " << kind;
    }
  }
  EXPECT_EQ(combos, 14);

  // /debug/vars is JSON with a nested "derp" object.
  auto vars = get("/debug/vars");
  EXPECT_EQ(vars.status, 200);
  auto doc = nlohmann::json::parse(vars.body, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_TRUE(doc.contains("derp"));
}

TEST_F(HttpEndpoints, DebugIsRefusedBehindAProxy) {
  auto r = get("/debug/varz", "X-Forwarded-For: 192.0.2.1\r\n");
  EXPECT_EQ(r.status, 403);
}

TEST_F(HttpEndpoints, AcceptsCountsUpgrades) {
  double before = varz(derpd_.port(), "derp_accepts");
  AsyncRunner runner;
  runner.run([&]() -> asio::awaitable<void> {
    auto c = co_await connect_client(derpd_.derp_url());
    c.reset();
  }());
  EXPECT_EQ(varz(derpd_.port(), "derp_accepts"), before + 1);
}

// --bootstrap-dns-names (protocol §1.5): the names' addresses as a tab-indented JSON object,
// resolved in the background. "localhost" resolves from /etc/hosts, so no DNS traffic leaves
// the machine; a name that cannot resolve is left out and logged.
TEST(BootstrapDns, ServesTheNamesAddressesAndCountsRequests) {
  TempDir dir;
  DerpdProcess derpd({"-a", "127.0.0.1:0", "--stun=false", "-c", dir.path() + "/key",
                      "--bootstrap-dns-names", "localhost, nonexistent.invalid"});
  HttpResponse r;
  ASSERT_TRUE(eventually([&] {
    r = http_request(derpd.port(), "GET", "/bootstrap-dns");
    return r.body.find("localhost") != std::string::npos;
  })) << r.head
      << r.body << derpd.log();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("connection"), "close");
  expect_browser_headers(r);
  auto j = nlohmann::json::parse(r.body);
  ASSERT_TRUE(j["localhost"].is_array()) << r.body;
  auto ips = j["localhost"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(ips.begin(), ips.end(), "127.0.0.1"), ips.end()) << r.body;
  EXPECT_FALSE(j.contains("nonexistent.invalid")) << r.body;
  EXPECT_NE(r.body.find("{\n\t\"localhost\": [\n\t\t\""), std::string::npos) << r.body;
  EXPECT_TRUE(eventually(
      [&] { return derpd.log().find("cannot resolve nonexistent.invalid") != std::string::npos; }));
  // ?q= for a name that is not unpublished gets the whole published map.
  EXPECT_EQ(http_request(derpd.port(), "GET", "/bootstrap-dns?q=other.example").body, r.body);
  EXPECT_GE(varz(derpd.port(), "bootstrap_dns_requests"), 2);
}

// --unpublished-bootstrap-dns-names: answered only to ?q=NAME; the rest get the published map
// (empty here). Without /TXTNAME a name goes to every client. The TXT rollout is tested in
// tests/unit/main/bootstrap_dns_test.cc with a resolver of the test's own: a TXT record needs a
// DNS server, and tests send no traffic off the machine.
TEST(BootstrapDns, AnUnpublishedNameIsAnsweredToItsQueryOnly) {
  TempDir dir;
  DerpdProcess derpd({"-a", "127.0.0.1:0", "--stun=false", "-c", dir.path() + "/key",
                      "--unpublished-bootstrap-dns-names", "localhost"});
  HttpResponse r;
  ASSERT_TRUE(eventually([&] {
    r = http_request(derpd.port(), "GET", "/bootstrap-dns?q=localhost");
    return r.body.find("localhost") != std::string::npos;
  })) << r.head
      << r.body << derpd.log();
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j.size(), 1u) << r.body;
  auto ips = j["localhost"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(ips.begin(), ips.end(), "127.0.0.1"), ips.end()) << r.body;
  // Queries before the name was resolved counted as misses: count from here.
  const auto misses = varz(derpd.port(), "bootstrap_dns_unpublished_misses");
  EXPECT_EQ(http_request(derpd.port(), "GET", "/bootstrap-dns").body, "");
  EXPECT_EQ(http_request(derpd.port(), "GET", "/bootstrap-dns?q=other.example").body, "");
  EXPECT_EQ(http_request(derpd.port(), "GET", "/bootstrap-dns?q=local%68ost").body, r.body);
  EXPECT_GE(varz(derpd.port(), "bootstrap_dns_unpublished_hits"), 2);
  EXPECT_EQ(varz(derpd.port(), "bootstrap_dns_unpublished_misses"), misses + 1);
  EXPECT_EQ(varz(derpd.port(), "bootstrap_dns_queried_domains"), 2);
}

TEST(BootstrapDns, WithoutNamesTheBodyIsEmpty) {
  TempDir dir;
  DerpdProcess derpd({"-a", "127.0.0.1:0", "--stun=false", "-c", dir.path() + "/key"});
  auto r = http_request(derpd.port(), "GET", "/bootstrap-dns");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.header("content-type"), "application/json");
}

TEST(HttpEndpointsDerpDisabled, DerpIs404) {
  TempDir dir;
  DerpdProcess derpd(
      {"-a", "127.0.0.1:0", "--stun=false", "--derp=false", "-c", dir.path() + "/key"});
  auto r = http_exchange(derpd.port(),
                         "GET /derp HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\nUpgrade: "
                         "DERP\r\n\r\n");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "derp server disabled\n");
  auto home = http_request(derpd.port(), "GET", "/");
  EXPECT_EQ(home.status, 200);
  EXPECT_NE(home.body.find("Status: disabled"), std::string::npos);
  // Other endpoints keep working.
  EXPECT_EQ(http_request(derpd.port(), "GET", "/generate_204").status, 204);
}

// TLS mode: the plain-HTTP port-80 listener (protocol §1.6) on a free port.
class Port80 : public ::testing::Test {
 protected:
  Port80()
      : pki_(tls::write_test_pki(dir_.path(), {"127.0.0.1"})),
        http_port_(pick_free_port()),
        derpd_({"-a", "127.0.0.1:0", "--stun=false", "-c", dir_.path() + "/key", "--certmode",
                "manual", "--hostname", "127.0.0.1", "--certdir", dir_.path(), "--http-port",
                std::to_string(http_port_)}) {}

  TempDir dir_;
  tls::TestPki pki_;
  std::uint16_t http_port_;
  DerpdProcess derpd_;
};

TEST_F(Port80, Behaviour) {
  ASSERT_EQ(derpd_.derp_url().rfind("https://", 0), 0u) << derpd_.derp_url();

  auto r = http_request(http_port_, "GET", "/generate_204", "X-Tailscale-Challenge: ts_abc\r\n");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("x-tailscale-response"), "response ts_abc");

  r = http_exchange(http_port_,
                    "GET /some/path?q=1 HTTP/1.1\r\nHost: derp.example.com\r\nConnection: "
                    "close\r\n\r\n");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("location"), "https://derp.example.com/some/path?q=1");

  // "/" goes to https:// for callers without debug access (behind a proxy)…
  r = http_exchange(http_port_,
                    "GET / HTTP/1.1\r\nHost: derp.example.com\r\nX-Forwarded-For: "
                    "192.0.2.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("location"), "https://derp.example.com/");
  // …and to /debug/ for a loopback caller.
  r = http_exchange(http_port_,
                    "HEAD / HTTP/1.1\r\nHost: derp.example.com\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("location"), "/debug/");

  r = http_exchange(http_port_,
                    "POST /x HTTP/1.1\r\nHost: derp.example.com\r\nContent-Length: "
                    "0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.substr(0, 9), "Use HTTPS");

  // DERP is not served on port 80: an upgrade request is redirected.
  r = http_exchange(http_port_,
                    "GET /derp HTTP/1.1\r\nHost: derp.example.com\r\nConnection: Upgrade, "
                    "close\r\nUpgrade: DERP\r\n\r\n");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("location"), "https://derp.example.com/derp");

  // Debug pages are reachable there for loopback.
  EXPECT_EQ(http_request(http_port_, "GET", "/debug/varz").status, 200);

  // The TLS listener itself relays.
  AsyncRunner runner;
  runner.run([&]() -> asio::awaitable<void> {
    auto a =
        co_await connect_client(derpd_.derp_url(), protocol::NodePrivate::generate(), pki_.ca_cert);
    auto b =
        co_await connect_client(derpd_.derp_url(), protocol::NodePrivate::generate(), pki_.ca_cert);
    co_await expect_relay(*a, *b, 1);
  }());
}

}  // namespace
}  // namespace derp::testing
