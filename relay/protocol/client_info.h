// The JSON bodies sealed inside ClientInfo and ServerInfo (protocol §3.4).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "relay/protocol/key.h"

namespace derp::protocol {

inline constexpr std::size_t kMaxAppNameBytes = 64;

struct ClientInfo {
  std::optional<KeyBytes> mesh_key;  // present only when the client sent a valid one
  int version = 0;
  bool can_ack_pings = false;
  bool is_prober = false;
  // At most kMaxAppNameBytes: a client may send up to 256 KiB here, and the node keeps it for the
  // connection's life (400 such clients once cost 100 MiB). Cut on a UTF-8 character boundary.
  std::string app_name;
};

struct ClientInfoResult {
  std::optional<ClientInfo> info;
  std::string error;  // why it was refused, for the log
};

// Parses keys case-insensitively, in any order, ignoring unknown keys. A meshKey that is present
// but not exactly 64 hex digits refuses the whole ClientInfo, as HEAD servers do.
ClientInfoResult parse_client_info_json(std::string_view json);
std::string write_client_info_json(const ClientInfo& info);

struct ServerInfo {
  int version = kProtocolVersion;
};
std::string write_server_info_json(const ServerInfo& info);
std::optional<ServerInfo> parse_server_info_json(std::string_view json);

}  // namespace derp::protocol
