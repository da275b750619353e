// DERP server addresses as the client takes them: http(s)://host[:port][/path], ws(s)://…
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace derp::client {

struct DerpUrl {
  bool tls = false;
  bool websocket = false;
  std::string host;  // without brackets
  std::uint16_t port = 0;
  std::string path = "/derp";
  std::string host_header() const;  // host[:port] with brackets for IPv6
};

// Returns nullopt for anything that is not one of the four schemes with a host.
std::optional<DerpUrl> parse_derp_url(const std::string& url);

}  // namespace derp::client
