#include "relay/transport/ip_prefix.h"

#include <charconv>
#include <stdexcept>

namespace derp::transport {

namespace ip = boost::asio::ip;

ip::address_v6::bytes_type address_key(const ip::address& address) {
  if (address.is_v4()) return ip::make_address_v6(ip::v4_mapped, address.to_v4()).to_bytes();
  return address.to_v6().to_bytes();
}

ip::address address_from_key(const ip::address_v6::bytes_type& key) {
  const ip::address_v6 v6(key);
  if (v6.is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, v6);
  return v6;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  const std::string host(text.substr(0, slash));
  boost::system::error_code ec;
  const ip::address address = ip::make_address(host, ec);
  if (ec) return std::nullopt;
  const unsigned max = address.is_v4() ? 32 : 128;
  unsigned length = max;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || err != std::errc() || end != digits.data() + digits.size() ||
        length > max) {
      return std::nullopt;
    }
  }
  IpPrefix p;
  p.v4_ = address.is_v4();
  p.length_ = p.v4_ ? length + 96 : length;
  p.bytes_ = address_key(address);
  for (unsigned bit = p.length_; bit < 128; ++bit) p.bytes_[bit / 8] &= ~(0x80u >> (bit % 8));
  return p;
}

bool IpPrefix::contains(const ip::address& address) const {
  const auto key = address_key(address);
  if (v4_ && !(address.is_v4() || address.to_v6().is_v4_mapped())) return false;
  for (unsigned bit = 0; bit < length_; ++bit) {
    const unsigned mask = 0x80u >> (bit % 8);
    if ((key[bit / 8] & mask) != (bytes_[bit / 8] & mask)) return false;
  }
  return true;
}

std::string IpPrefix::to_string() const {
  return address_from_key(bytes_).to_string() + "/" + std::to_string(v4_ ? length_ - 96 : length_);
}

std::vector<IpPrefix> parse_prefix_list(std::string_view list) {
  std::vector<IpPrefix> out;
  std::size_t pos = 0;
  while (pos < list.size()) {
    const std::size_t end = list.find_first_of(", ", pos);
    const std::string_view entry =
        list.substr(pos, end == std::string_view::npos ? end : end - pos);
    pos = end == std::string_view::npos ? list.size() : end + 1;
    if (entry.empty()) continue;
    auto prefix = IpPrefix::parse(entry);
    if (!prefix) {
      throw std::runtime_error("\"" + std::string(entry) +
                               "\" is not an IP address or CIDR prefix (e.g. 10.0.0.0/8, ::1)");
    }
    out.push_back(*prefix);
  }
  return out;
}

bool any_contains(const std::vector<IpPrefix>& prefixes, const ip::address& address) {
  for (const auto& p : prefixes)
    if (p.contains(address)) return true;
  return false;
}

}  // namespace derp::transport
