#include "relay/http/peer_address.h"

namespace derp::http {

namespace {
boost::asio::ip::address unmap(const boost::asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  }
  return a;
}
}  // namespace

server::ConnectionInfo connection_info_for(const boost::asio::ip::tcp::endpoint& remote) {
  server::ConnectionInfo info;
  auto addr = unmap(remote.address());
  if (addr.is_v4()) {
    auto b = addr.to_v4().to_bytes();
    info.remote_ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, b[0], b[1], b[2], b[3]};
    info.remote_text = addr.to_string() + ":" + std::to_string(remote.port());
  } else {
    auto b = addr.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), info.remote_ip.begin());
    info.remote_text = "[" + addr.to_string() + "]:" + std::to_string(remote.port());
  }
  info.remote_port = remote.port();
  return info;
}

bool debug_access_allowed(const boost::asio::ip::address& raw) {
  auto addr = unmap(raw);
  if (addr.is_loopback()) return true;
  if (addr.is_v4()) {
    auto v = addr.to_v4().to_uint();
    bool cgnat = (v & 0xffc00000u) == 0x64400000u;     // 100.64.0.0/10
    bool chromeos = (v & 0xfffffe00u) == 0x64735c00u;  // 100.115.92.0/23
    return cgnat && !chromeos;
  }
  auto b = addr.to_v6().to_bytes();
  static constexpr std::uint8_t kTailscaleV6[6] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};
  return std::equal(std::begin(kTailscaleV6), std::end(kTailscaleV6), b.begin());
}

}  // namespace derp::http
