// The server key file of protocol §3.5: {"PrivateKey": "privkey:<64 hex>"}, created 0600 when
// missing.
#pragma once

#include <filesystem>

#include "relay/protocol/key.h"

namespace derp::main {

// Reads the key, or creates the file (and its folders) with a fresh key when it does not exist.
// Throws std::runtime_error naming the file and what is wrong with it.
protocol::NodePrivate load_or_create_key_file(const std::filesystem::path& path);
std::string key_file_text(const protocol::NodePrivate& key);
// Parses the file's text. Throws std::runtime_error naming `path` and what is wrong.
protocol::NodePrivate parse_key_file_text(std::string_view text, const std::filesystem::path& path);

}  // namespace derp::main
