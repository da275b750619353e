#include "relay/main/key_file.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "relay/files/atomic_file.h"
#include "relay/files/secret_permissions.h"

namespace derp::main {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw std::runtime_error("key file " + path.string() + ": " + what);
}

void write_atomically(const std::filesystem::path& path, const std::string& text) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) fail(path, "cannot create its folder: " + ec.message());
  }
  try {
    files::write_file_atomically(path, text, 0600);
  } catch (const std::runtime_error& e) {
    fail(path, e.what());
  }
}

}  // namespace

std::string key_file_text(const protocol::NodePrivate& key) {
  return "{\n\t\"PrivateKey\": \"" + key.to_text() + "\"\n}";
}

protocol::NodePrivate load_or_create_key_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno != ENOENT && std::filesystem::exists(path)) {
      fail(path, std::string("cannot read: ") + std::strerror(errno));
    }
    auto key = protocol::NodePrivate::generate();
    write_atomically(path, key_file_text(key));
    spdlog::info("created new server key file {} (mode 0600)", path.string());
    return key;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto key = parse_key_file_text(text, path);
  if (auto exposure = files::secret_file_exposure(path); !exposure.empty()) {
    spdlog::warn("key file {} {}", path.string(), exposure);
  }
  return key;
}

protocol::NodePrivate parse_key_file_text(std::string_view text,
                                          const std::filesystem::path& path) {
  if (text.size() > 64 * 1024) fail(path, "too large to be a key file");
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) fail(path, "not a JSON object");
  auto it = doc.find("PrivateKey");
  if (it == doc.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    fail(path, "missing \"PrivateKey\" field");
  }
  auto key = protocol::parse_node_private(it->get<std::string>());
  if (!key) fail(path, "\"PrivateKey\" must be \"privkey:\" followed by 64 hex digits");
  return *key;
}

}  // namespace derp::main
