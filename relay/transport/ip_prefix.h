// Address ranges written as CIDR ("127.0.0.0/8", "::1/128", or a bare address for one host), for
// the lists operators give on the command line.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace derp::transport {

class IpPrefix {
 public:
  // "10.0.0.0/8", "2001:db8::/32", "192.0.2.7" (a /32), "::1" (a /128). nullopt if malformed or
  // the length is out of range. Host bits below the length are ignored.
  static std::optional<IpPrefix> parse(std::string_view text);

  // An IPv4 prefix also matches the v4-mapped IPv6 form of its addresses (a dual-stack socket
  // reports IPv4 peers as ::ffff:a.b.c.d).
  bool contains(const boost::asio::ip::address& address) const;
  std::string to_string() const;

 private:
  boost::asio::ip::address_v6::bytes_type bytes_{};  // IPv4 stored v4-mapped
  unsigned length_ = 0;                              // in the v6 form: IPv4 /8 is stored as /104
  bool v4_ = false;
};

// Comma- or space-separated prefixes. Throws std::runtime_error naming the bad entry.
std::vector<IpPrefix> parse_prefix_list(std::string_view list);
bool any_contains(const std::vector<IpPrefix>& prefixes, const boost::asio::ip::address& address);

// The address in v6 form (IPv4 as v4-mapped), so equal peers compare equal whatever the socket.
boost::asio::ip::address_v6::bytes_type address_key(const boost::asio::ip::address& address);
// The inverse: a v4-mapped key is an IPv4 address again.
boost::asio::ip::address address_from_key(const boost::asio::ip::address_v6::bytes_type& key);

}  // namespace derp::transport
