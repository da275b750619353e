#include "relay/http/peer_address.h"

#include <spdlog/spdlog.h>

#include <array>
#include <cstdlib>

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

bool debug_access_allowed(const boost::asio::ip::address& addr,
                          const std::vector<transport::IpPrefix>& trusted) {
  // Tailscale's CGNAT range minus ChromeOS's slice of it, Tailscale's ULA, and loopback.
  static const auto allowed =
      transport::parse_prefix_list("127.0.0.0/8 ::1 100.64.0.0/10 fd7a:115c:a1e0::/48");
  static const auto chromeos = transport::parse_prefix_list("100.115.92.0/23");
  if (transport::any_contains(trusted, addr)) return true;
  return transport::any_contains(allowed, addr) && !transport::any_contains(chromeos, addr);
}

bool debug_access_allowed(const boost::asio::ip::address& addr) {
  static const auto trusted = [] {
    std::vector<std::string> warnings;
    auto prefixes = trusted_debug_prefixes(std::getenv("TS_ALLOW_DEBUG_IP"),
                                           std::getenv("TS_DEBUG_TRUSTED_CIDRS"), warnings);
    for (const auto& w : warnings) spdlog::warn("/debug access: {}", w);
    for (const auto& p : prefixes) spdlog::info("/debug access also for {}", p.to_string());
    return prefixes;
  }();
  return debug_access_allowed(addr, trusted);
}

std::vector<transport::IpPrefix> trusted_debug_prefixes(const char* allow_debug_ip,
                                                        const char* trusted_cidrs,
                                                        std::vector<std::string>& warnings) {
  std::vector<transport::IpPrefix> out;
  auto add = [&](std::string_view entry, const char* variable) {
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (entry.empty()) return;
    try {
      auto one = transport::parse_prefix_list(entry);
      out.insert(out.end(), one.begin(), one.end());
    } catch (const std::runtime_error&) {
      warnings.push_back(std::string(variable) + ": \"" + std::string(entry) +
                         "\" is not an address or range; ignored");
    }
  };
  if (allow_debug_ip) add(allow_debug_ip, "TS_ALLOW_DEBUG_IP");
  if (trusted_cidrs) {
    std::string_view rest = trusted_cidrs;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      add(rest.substr(0, comma), "TS_DEBUG_TRUSTED_CIDRS");
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return out;
}

}  // namespace derp::http
