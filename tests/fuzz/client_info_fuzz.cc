// ClientInfo JSON as a hostile client could seal it: the parser must refuse or accept, never crash.
#include <cstdint>
#include <string_view>

#include "relay/protocol/client_info.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = derp::protocol::parse_client_info_json(text);
  if (r.info) (void)derp::protocol::write_client_info_json(*r.info);
  (void)derp::protocol::parse_server_info_json(text);
  return 0;
}
