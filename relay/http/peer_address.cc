#include "relay/http/peer_address.h"

#include <array>

#include "relay/transport/ip_prefix.h"

namespace derp::http {

server::ConnectionInfo connection_info_for(const boost::asio::ip::tcp::endpoint& remote) {
  server::ConnectionInfo info;
  info.remote_ip = transport::address_key(remote.address());
  const auto address = transport::address_from_key(info.remote_ip);
  info.remote_text = address.is_v4() ? address.to_string() : "[" + address.to_string() + "]";
  info.remote_text += ":" + std::to_string(remote.port());
  info.remote_port = remote.port();
  return info;
}

bool debug_access_allowed(const boost::asio::ip::address& addr) {
  // Tailscale's CGNAT range minus ChromeOS's slice of it, Tailscale's ULA, and loopback.
  static const auto allowed =
      transport::parse_prefix_list("127.0.0.0/8 ::1 100.64.0.0/10 fd7a:115c:a1e0::/48");
  static const auto chromeos = transport::parse_prefix_list("100.115.92.0/23");
  return transport::any_contains(allowed, addr) && !transport::any_contains(chromeos, addr);
}

}  // namespace derp::http
