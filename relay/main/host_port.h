// "host:port" for logs and listings: an IPv6 host in brackets, the wildcard as [::].
#pragma once

#include <cstdint>
#include <string>

namespace derp::main {

inline std::string host_port(const std::string& host, std::uint16_t port) {
  if (host.empty()) return "[::]:" + std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

}  // namespace derp::main
