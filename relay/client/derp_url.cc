#include "relay/client/derp_url.h"

#include <string_view>

namespace derp::client {

std::string DerpUrl::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  bool default_port = (tls && port == 443) || (!tls && port == 80);
  return default_port ? h : h + ":" + std::to_string(port);
}

std::optional<DerpUrl> parse_derp_url(const std::string& url) {
  DerpUrl out;
  std::string_view rest = url;
  auto take = [&](std::string_view scheme) {
    if (!rest.starts_with(scheme)) return false;
    rest.remove_prefix(scheme.size());
    return true;
  };
  if (take("https://")) {
    out.tls = true;
  } else if (take("http://")) {
  } else if (take("wss://")) {
    out.tls = out.websocket = true;
  } else if (take("ws://")) {
    out.websocket = true;
  } else {
    return std::nullopt;
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.path = std::string(rest.substr(slash));
  std::string_view port_text;
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      port_text = authority.substr(close + 2);
    }
  } else {
    auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return std::nullopt;
  out.port = out.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned v = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(c - '0');
      if (v > 65535) return std::nullopt;
    }
    out.port = static_cast<std::uint16_t>(v);
  }
  return out;
}

}  // namespace derp::client
