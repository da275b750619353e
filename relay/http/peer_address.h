// Facts about a peer's address that the HTTP front needs.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "relay/server/client_session.h"

namespace derp::http {

server::ConnectionInfo connection_info_for(const boost::asio::ip::tcp::endpoint& remote);
// Loopback or a Tailscale address (100.64.0.0/10 except 100.115.92.0/23, fd7a:115c:a1e0::/48):
// the peers the reference lets see /debug (protocol §1.7).
bool debug_access_allowed(const boost::asio::ip::address& addr);

}  // namespace derp::http
