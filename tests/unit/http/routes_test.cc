// route_request as a table (protocol §1.3-§1.7): what each request to the main listener, the
// port-80 listener and a draining node turns into, with no socket involved.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/http/routes.h"

namespace derp::http {
namespace {

struct Case {
  const char* what;
  beast_http::verb method;
  const char* target;
  std::vector<std::pair<std::string, std::string>> headers;
  FrontConfig cfg;
  bool debug_allowed;
  RouteKind want_kind;
  unsigned want_status;  // for kResponse
  bool want_fast_start = false;
  bool want_not_ideal = false;
};

FrontConfig draining() {
  FrontConfig c;
  c.refuse_new_derp = true;
  return c;
}
FrontConfig port80() {
  FrontConfig c;
  c.port80 = true;
  return c;
}
FrontConfig no_derp() {
  FrontConfig c;
  c.derp_enabled = false;
  return c;
}

TEST(Routes, Table) {
  using V = beast_http::verb;
  const std::vector<std::pair<std::string, std::string>> derp_upgrade{{"Upgrade", "DERP"},
                                                                      {"Connection", "Upgrade"}};
  const Case cases[] = {
      {"raw upgrade", V::get, "/derp", derp_upgrade, {}, false, RouteKind::kDerpUpgrade, 0},
      {"fast start",
       V::get,
       "/derp",
       {{"Upgrade", "DERP"}, {"Derp-Fast-Start", "1"}},
       {},
       false,
       RouteKind::kDerpUpgrade,
       0,
       true},
      {"Ideal-Node marks the connection",
       V::get,
       "/derp",
       {{"Upgrade", "derp"}, {"Ideal-Node", "900b"}},
       {},
       false,
       RouteKind::kDerpUpgrade,
       0,
       false,
       true},
      {"WebSocket with the derp subprotocol",
       V::get,
       "/derp",
       {{"Upgrade", "websocket"}, {"Sec-WebSocket-Protocol", "derp"}},
       {},
       false,
       RouteKind::kWebSocketUpgrade,
       0},
      {"old clients: Upgrade: WebSocket without the subprotocol speak raw DERP",
       V::get,
       "/derp",
       {{"Upgrade", "WebSocket"}},
       {},
       false,
       RouteKind::kDerpUpgrade,
       0},
      {"no Upgrade header", V::get, "/derp", {}, {}, false, RouteKind::kResponse, 426},
      {"draining: the upgrade is refused", V::get, "/derp", derp_upgrade, draining(), false,
       RouteKind::kResponse, 503},
      {"draining: the probe says so",
       V::get,
       "/derp/probe",
       {},
       draining(),
       false,
       RouteKind::kResponse,
       503},
      {"serving: the probe is fine",
       V::get,
       "/derp/probe",
       {},
       {},
       false,
       RouteKind::kResponse,
       200},
      {"--derp=false", V::get, "/derp", derp_upgrade, no_derp(), false, RouteKind::kResponse, 404},
      {"captive-portal check", V::get, "/generate_204", {}, {}, false, RouteKind::kResponse, 204},
      {"robots", V::get, "/robots.txt", {}, {}, false, RouteKind::kResponse, 200},
      {"CONNECT is not offered",
       V::connect,
       "example.com:443",
       {},
       {},
       false,
       RouteKind::kResponse,
       403},
      {"debug pages need a trusted peer",
       V::get,
       "/debug/varz",
       {},
       {},
       false,
       RouteKind::kResponse,
       403},
      {"debug pages for a trusted peer",
       V::get,
       "/debug/varz",
       {},
       {},
       true,
       RouteKind::kDebugVarz,
       0},
      {"port 80: captive-portal check answered",
       V::get,
       "/generate_204",
       {},
       port80(),
       false,
       RouteKind::kResponse,
       204},
      {"port 80: everything else goes to HTTPS", V::get, "/derp", derp_upgrade, port80(), false,
       RouteKind::kResponse, 302},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Request req{c.method, c.target, 11};
    req.set(beast_http::field::host, "derp.example.com");
    for (const auto& [name, value] : c.headers) req.set(name, value);
    Route r = route_request(req, c.cfg, RequestContext{c.debug_allowed});
    EXPECT_EQ(r.kind, c.want_kind);
    if (c.want_kind == RouteKind::kResponse) {
      EXPECT_EQ(r.response.result_int(), c.want_status);
    }
    EXPECT_EQ(r.fast_start, c.want_fast_start);
    EXPECT_EQ(r.not_ideal, c.want_not_ideal);
  }
}

TEST(Routes, AcmeHttp01OnlyOnPort80AndOnlyForBase64urlTokens) {
  Request req{beast_http::verb::get, "/.well-known/acme-challenge/Ab-_09xyz", 11};
  req.set(beast_http::field::host, "derp.example.com");
  Route r = route_request(req, port80(), RequestContext{});
  EXPECT_EQ(r.kind, RouteKind::kAcmeHttp01);
  EXPECT_EQ(r.query_name, "Ab-_09xyz");

  // The TLS listener does not answer HTTP-01 (the CA fetches it over plain HTTP on port 80).
  EXPECT_EQ(route_request(req, FrontConfig{}, RequestContext{}).kind, RouteKind::kResponse);

  for (const char* bad :
       {"/.well-known/acme-challenge/", "/.well-known/acme-challenge/a.b",
        "/.well-known/acme-challenge/a/b", "/.well-known/acme-challenge/%2e%2e"}) {
    SCOPED_TRACE(bad);
    Request odd{beast_http::verb::get, bad, 11};
    Route answer = route_request(odd, port80(), RequestContext{});
    EXPECT_EQ(answer.kind, RouteKind::kResponse);
    EXPECT_EQ(answer.response.result_int(), 404u);
  }
}

TEST(QueryValue, DecodesTheFirstValueAsGoDoes) {
  EXPECT_EQ(query_value("/bootstrap-dns?q=derp.example.com", "q"), "derp.example.com");
  EXPECT_EQ(query_value("/bootstrap-dns?x=1&q=a%2Eb&q=second", "q"), "a.b");
  EXPECT_EQ(query_value("/bootstrap-dns?q=a+b", "q"), "a b");
  EXPECT_EQ(query_value("/bootstrap-dns?qq=1", "q"), "");
  EXPECT_EQ(query_value("/bootstrap-dns", "q"), "");
  EXPECT_EQ(query_value("/bootstrap-dns?q", "q"), "");
  EXPECT_EQ(query_value("/bootstrap-dns?q=%zz", "q"), "");
  EXPECT_EQ(query_value("/bootstrap-dns?q=%4", "q"), "");
}

}  // namespace
}  // namespace derp::http
