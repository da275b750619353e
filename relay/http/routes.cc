#include "relay/http/routes.h"

#include "relay/acme/jws.h"

#include <boost/algorithm/string/predicate.hpp>

#include "relay/protocol/key.h"

namespace derp::http {
namespace {

constexpr std::string_view kHomePage =
    "<html><body>\n<h1>DERP</h1>\n<p>\n  This is a <a "
    "href=\"https://tailscale.com/\">Tailscale</a> "
    "DERP server, run by derpd.\n</p>\n";

Response make(beast_http::status status, std::string body = {},
              std::string_view content_type = "text/plain; charset=utf-8") {
  Response r{status, 11};
  if (!body.empty() || status == beast_http::status::ok) {
    r.set(beast_http::field::content_type, content_type);
  }
  r.body() = std::move(body);
  return r;
}

void add_browser_headers(Response& r) {
  r.set("Strict-Transport-Security", "max-age=63072000; includeSubDomains");
  r.set("Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'; "
        "block-all-mixed-content; object-src 'none'");
  r.set("X-Frame-Options", "DENY");
  r.set("X-Content-Type-Options", "nosniff");
}

Response generate_204(const Request& req) {
  Response r = make(beast_http::status::no_content);
  r.set(beast_http::field::cache_control,
        "no-cache, no-store, must-revalidate, no-transform, max-age=0");
  auto it = req.find("X-Tailscale-Challenge");
  if (it != req.end() && valid_challenge(it->value())) {
    r.set("X-Tailscale-Response", "response " + std::string(it->value()));
  }
  return r;
}

Response probe(const Request& req) {
  if (req.method() != beast_http::verb::get && req.method() != beast_http::verb::head) {
    return make(beast_http::status::method_not_allowed, "bogus probe method\n");
  }
  Response r = make(beast_http::status::ok);
  r.erase(beast_http::field::content_type);
  r.set(beast_http::field::access_control_allow_origin, "*");
  return r;
}

Response home(const FrontConfig& cfg, const RequestContext& ctx) {
  if (cfg.home.starts_with("http://") || cfg.home.starts_with("https://")) {
    Response r = make(beast_http::status::found);
    r.set(beast_http::field::location, cfg.home);
    return r;
  }
  std::string body;
  if (cfg.home != "blank") {
    body = kHomePage;
    if (!cfg.derp_enabled) body += "<p>Status: disabled</p>\n";
    if (ctx.debug_allowed) body += "<p>Debug info at <a href='/debug/'>/debug/</a>.</p>\n";
    body += "</body></html>\n";
  }
  Response r = make(beast_http::status::ok, std::move(body), "text/html; charset=utf-8");
  add_browser_headers(r);
  return r;
}

Route respond(Response r) {
  Route route;
  route.response = std::move(r);
  return route;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

Route debug_route(std::string_view path, const RequestContext& ctx) {
  if (!ctx.debug_allowed)
    return respond(make(beast_http::status::forbidden, "debug access denied\n"));
  Route route;
  if (path == "/debug/vars") {
    route.kind = RouteKind::kDebugVars;
  } else if (path == "/debug/varz") {
    route.kind = RouteKind::kDebugVarz;
  } else if (path == "/debug/" || path == "/debug") {
    Response r = make(beast_http::status::ok,
                      "<html><body><h1>derpd debug</h1><ul>"
                      "<li><a href='/debug/vars'>/debug/vars</a></li>"
                      "<li><a href='/debug/varz'>/debug/varz</a></li></ul></body></html>\n",
                      "text/html; charset=utf-8");
    add_browser_headers(r);
    route.response = std::move(r);
  } else {
    route.response = make(beast_http::status::not_found, "404 page not found\n");
  }
  return route;
}

Route port80_route(const Request& req, std::string_view path, const RequestContext& ctx) {
  if (path == "/generate_204") return respond(generate_204(req));
  // RFC 8555 §8.3: the CA fetches the key authorisation over plain HTTP; derper's autocert
  // answers on port 80 too. Tokens are base64url; anything else is nobody's challenge.
  constexpr std::string_view kAcmePrefix = "/.well-known/acme-challenge/";
  if (path.starts_with(kAcmePrefix) && req.method() == beast_http::verb::get) {
    std::string_view token = path.substr(kAcmePrefix.size());
    if (!acme::valid_token(token))
      return respond(make(beast_http::status::not_found, "404 page not found\n"));
    Route route;
    route.kind = RouteKind::kAcmeHttp01;
    route.query_name = std::string(token);
    return route;
  }
  if (path.starts_with("/debug")) return debug_route(path, ctx);
  if (req.method() != beast_http::verb::get && req.method() != beast_http::verb::head) {
    return respond(make(beast_http::status::bad_request, "Use HTTPS\n"));
  }
  Response r = make(beast_http::status::found);
  if (path == "/" && ctx.debug_allowed) {
    r.set(beast_http::field::location, "/debug/");
  } else {
    r.set(beast_http::field::location,
          "https://" + std::string(req[beast_http::field::host]) + std::string(req.target()));
  }
  return respond(std::move(r));
}

Route derp_route(const Request& req, const FrontConfig& cfg) {
  if (!cfg.derp_enabled)
    return respond(make(beast_http::status::not_found, "derp server disabled\n"));
  std::string_view upgrade = req[beast_http::field::upgrade];
  bool websocket = boost::iequals(upgrade, "websocket");
  bool wants_derp_subprotocol =
      req[beast_http::field::sec_websocket_protocol].find("derp") != std::string_view::npos;
  if (!websocket && !boost::iequals(upgrade, "derp")) {
    return respond(
        make(beast_http::status::upgrade_required, "DERP requires connection upgrade\n"));
  }
  if (cfg.refuse_new_derp) {
    Response r = make(beast_http::status::service_unavailable,
                      "this DERP node is draining; connect to another node of the region\n");
    r.set(beast_http::field::retry_after, "30");
    r.keep_alive(false);
    return respond(std::move(r));
  }
  Route route;
  route.not_ideal = !req["Ideal-Node"].empty();
  if (websocket && wants_derp_subprotocol) {
    route.kind = RouteKind::kWebSocketUpgrade;
    return route;
  }
  // Old clients sent "Upgrade: WebSocket" but spoke raw DERP: that is a raw upgrade too.
  route.kind = RouteKind::kDerpUpgrade;
  route.fast_start = req["Derp-Fast-Start"] == "1";
  return route;
}

}  // namespace

bool valid_challenge(std::string_view c) {
  if (c.empty() || c.size() > 64) return false;
  for (char ch : c) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == ':' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

std::string derp_upgrade_response(std::string_view server_key_hex) {
  std::string out =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
      "Derp-Version: 2\r\nDerp-Public-Key: ";
  out += server_key_hex;
  out += "\r\n\r\n";
  return out;
}

Route route_request(const Request& req, const FrontConfig& cfg, const RequestContext& ctx) {
  std::string_view path = path_of(req.target());
  if (cfg.port80) return port80_route(req, path, ctx);
  if (req.method() == beast_http::verb::connect) {
    return respond(make(beast_http::status::forbidden, "CONNECT not enabled\n"));
  }
  if (path == "/derp") return derp_route(req, cfg);
  if (path == "/derp/probe" || path == "/derp/latency-check") {
    if (cfg.refuse_new_derp) {
      return respond(make(beast_http::status::service_unavailable, "draining\n"));
    }
    return respond(probe(req));
  }
  if (path == "/generate_204") return respond(generate_204(req));
  if (path == "/robots.txt") {
    Response r = make(beast_http::status::ok, "User-agent: *\nDisallow: /\n");
    add_browser_headers(r);
    return respond(std::move(r));
  }
  if (path == "/bootstrap-dns") {
    // Empty unless the node resolves --bootstrap-dns-names: the reference answers an empty 200
    // when none are set.
    Response r = make(beast_http::status::ok, "", "application/json");
    r.set(beast_http::field::content_type, "application/json");
    add_browser_headers(r);
    r.keep_alive(false);
    Route route = respond(std::move(r));
    route.kind = RouteKind::kBootstrapDns;
    route.query_name = query_value(req.target(), "q");
    return route;
  }
  if (path.starts_with("/debug")) return debug_route(path, ctx);
  return respond(home(cfg, ctx));
}

std::string query_value(std::string_view target, std::string_view key) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return {};
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != key) continue;
    const std::string_view raw = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    std::string value;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value += ' ';
      } else if (raw[i] != '%') {
        value += raw[i];
      } else if (i + 2 < raw.size() && protocol::hex_value(raw[i + 1]) >= 0 &&
                 protocol::hex_value(raw[i + 2]) >= 0) {
        value += static_cast<char>(protocol::hex_value(raw[i + 1]) * 16 +
                                   protocol::hex_value(raw[i + 2]));
        i += 2;
      } else {
        return {};  // Go drops a query it cannot decode
      }
    }
    return value;
  }
  return {};
}

}  // namespace derp::http
