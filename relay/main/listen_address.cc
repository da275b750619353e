#include "relay/main/listen_address.h"

#include <stdexcept>

namespace derp::main {

ListenAddress parse_listen_address(const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) {
    throw std::runtime_error("-a " + addr + ": expected host:port, :port or [ipv6]:port");
  }
  ListenAddress out;
  out.host = addr.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  std::string port = addr.substr(colon + 1);
  if (port == "https") {
    out.port = 443;
  } else if (port == "http") {
    out.port = 80;
  } else {
    try {
      std::size_t used = 0;
      int p = std::stoi(port, &used);
      if (used != port.size() || p < 0 || p > 65535) throw std::out_of_range("port");
      out.port = static_cast<std::uint16_t>(p);
    } catch (const std::exception&) {
      throw std::runtime_error("-a " + addr + ": \"" + port + "\" is not a port number");
    }
  }
  return out;
}

}  // namespace derp::main
