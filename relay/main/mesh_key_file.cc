#include "relay/main/mesh_key_file.h"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>

#include "relay/files/secret_permissions.h"
#include "relay/files/small_file.h"

namespace derp::main {

protocol::KeyBytes parse_mesh_key(std::string_view text, std::string_view source) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  auto key = protocol::parse_hex32(text);
  if (!key) {
    std::string what = text.size() == 64 ? "contains a character that is not a hex digit"
                                         : "got " + std::to_string(text.size()) + " characters";
    throw std::runtime_error("mesh key " + std::string(source) + ": must be 64 hex characters, " +
                             what);
  }
  return *key;
}

protocol::KeyBytes read_mesh_key_file(const std::filesystem::path& path) {
  auto file = files::read_small_file(path, 4096);
  if (!file.text) throw std::runtime_error("mesh key file " + file.error);
  auto key = parse_mesh_key(*file.text, "file " + path.string());
  // Anyone holding the mesh key can join the region and watch every client's presence.
  if (auto exposure = files::secret_file_exposure(path); !exposure.empty()) {
    spdlog::warn("mesh key file {} {}", path.string(), exposure);
  }
  return key;
}

}  // namespace derp::main
