// The region's mesh PSK (protocol §5.1): exactly 64 hex digits, surrounding whitespace trimmed.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "relay/protocol/key.h"

namespace derp::main {

// Throws std::runtime_error with the file name and what is wrong (never the key itself).
protocol::KeyBytes read_mesh_key_file(const std::filesystem::path& path);
// Parses the text form; `source` names where it came from for the error.
protocol::KeyBytes parse_mesh_key(std::string_view text, std::string_view source);

}  // namespace derp::main
