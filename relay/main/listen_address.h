// derpd's -a: where the DERP listener binds, in derper's spelling.
#pragma once

#include <cstdint>
#include <string>

namespace derp::main {

struct ListenAddress {
  std::string host;  // "" means every address, dual-stack
  std::uint16_t port = 0;
};
// Parses -a: ":443", "1.2.3.4:443", "[::1]:443", ":https". Throws std::runtime_error.
ListenAddress parse_listen_address(const std::string& addr);

}  // namespace derp::main
