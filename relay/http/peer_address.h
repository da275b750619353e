// Facts about a peer's address that the HTTP front needs.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <string>
#include <vector>

#include "relay/server/client_session.h"
#include "relay/transport/ip_prefix.h"

namespace derp::http {

server::ConnectionInfo connection_info_for(const boost::asio::ip::tcp::endpoint& remote);
// Loopback or a Tailscale address (100.64.0.0/10 except 100.115.92.0/23, fd7a:115c:a1e0::/48),
// or one the operator trusts (`trusted`): the peers the reference lets see /debug (protocol §1.7).
bool debug_access_allowed(const boost::asio::ip::address& addr,
                          const std::vector<transport::IpPrefix>& trusted);
// The same with the trusted addresses of the environment, read once (trusted_debug_prefixes).
bool debug_access_allowed(const boost::asio::ip::address& addr);
// derper's overrides: TS_ALLOW_DEBUG_IP (one address) and TS_DEBUG_TRUSTED_CIDRS (comma-separated
// ranges); null for an unset variable. A malformed entry is skipped and named in `warnings`.
std::vector<transport::IpPrefix> trusted_debug_prefixes(const char* allow_debug_ip,
                                                        const char* trusted_cidrs,
                                                        std::vector<std::string>& warnings);

}  // namespace derp::http
