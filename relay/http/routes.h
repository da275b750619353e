// What the HTTP front does with one request (protocol §1.3–§1.7), as a pure function so it can be
// tested and fuzzed without sockets.
#pragma once

#include <boost/beast/http.hpp>
#include <string>

namespace derp::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;

struct FrontConfig {
  bool derp_enabled = true;
  bool tls = false;              // this listener serves TLS
  bool port80 = false;           // the plain companion of a TLS listener (protocol §1.6)
  std::string home;              // "" default page, "blank", or an http(s):// URL
  bool refuse_new_derp = false;  // draining: new DERP connections get 503
};

struct RequestContext {
  bool debug_allowed = false;  // loopback/Tailscale peer without X-Forwarded-For
};

enum class RouteKind {
  kResponse,          // write `response`
  kDerpUpgrade,       // take the connection over for DERP
  kWebSocketUpgrade,  // RFC 6455 handshake, then DERP in binary messages
  kDebugVars,         // JSON of counters (filled by the caller)
  kDebugVarz,         // Prometheus text (filled by the caller)
  kBootstrapDns,      // `response` has the headers; the caller fills the body (names resolved)
  kAcmeHttp01,  // port 80: ACME HTTP-01 for token `query_name`; the caller answers or sends 404
};

struct Route {
  RouteKind kind = RouteKind::kResponse;
  Response response;
  bool fast_start = false;  // Derp-Fast-Start: 1 (no 101 is written)
  bool not_ideal = false;   // Ideal-Node header present
  std::string query_name;   // /bootstrap-dns?q=NAME: NAME, percent-decoded; HTTP-01: the token
};

// The value of `key` in `target`'s query string, percent-decoded ('+' as a space), as Go's
// URL.Query().Get: the first occurrence; "" when absent or malformed.
std::string query_value(std::string_view target, std::string_view key);

Route route_request(const Request& req, const FrontConfig& cfg, const RequestContext& ctx);

// The exact 101 response of protocol §1.3 (172 bytes for a 64-hex key).
std::string derp_upgrade_response(std::string_view server_key_hex);

// Whether X-Tailscale-Challenge may be echoed: non-empty, ≤ 64 bytes of [A-Za-z0-9._:-].
bool valid_challenge(std::string_view challenge);

}  // namespace derp::http
