#include "relay/protocol/client_info.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace derp::protocol {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Go's encoding/json matches keys case-insensitively; the last match wins, as in Go.
const nlohmann::json* find_key(const nlohmann::json& obj, std::string_view key) {
  const nlohmann::json* found = nullptr;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (iequals(it.key(), key)) found = &it.value();
  }
  return found;
}

// ClientInfo is a flat object. Refusing deep nesting up front keeps hostile input from costing
// the JSON library a deep recursion.
bool nesting_within(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

}  // namespace

ClientInfoResult parse_client_info_json(std::string_view text) {
  if (!nesting_within(text, 8)) return {std::nullopt, "ClientInfo JSON is nested too deeply"};
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return {std::nullopt, "ClientInfo is not valid JSON"};
  if (!doc.is_object()) return {std::nullopt, "ClientInfo is not a JSON object"};
  ClientInfo info;
  if (const auto* v = find_key(doc, "meshKey"); v && !v->is_null()) {
    if (!v->is_string()) return {std::nullopt, "ClientInfo meshKey is not a string"};
    auto key = parse_hex32(v->get_ref<const std::string&>());
    if (!key) return {std::nullopt, "ClientInfo meshKey is not 64 hex digits"};
    info.mesh_key = *key;
  }
  if (const auto* v = find_key(doc, "version"); v && !v->is_null()) {
    if (!v->is_number_integer()) return {std::nullopt, "ClientInfo version is not an integer"};
    info.version = static_cast<int>(v->get<std::int64_t>());
  }
  if (const auto* v = find_key(doc, "CanAckPings"); v && !v->is_null()) {
    if (!v->is_boolean()) return {std::nullopt, "ClientInfo CanAckPings is not a boolean"};
    info.can_ack_pings = v->get<bool>();
  }
  if (const auto* v = find_key(doc, "IsProber"); v && !v->is_null()) {
    if (!v->is_boolean()) return {std::nullopt, "ClientInfo IsProber is not a boolean"};
    info.is_prober = v->get<bool>();
  }
  if (const auto* v = find_key(doc, "AppName"); v && !v->is_null()) {
    if (!v->is_string()) return {std::nullopt, "ClientInfo AppName is not a string"};
    const auto& name = v->get_ref<const std::string&>();
    std::size_t keep = std::min(name.size(), kMaxAppNameBytes);
    // Back off to the start of a UTF-8 character (continuation bytes are 10xxxxxx).
    if (keep < name.size()) {
      while (keep > 0 && (static_cast<unsigned char>(name[keep]) & 0xC0) == 0x80) --keep;
    }
    info.app_name = name.substr(0, keep);
  }
  return {info, {}};
}

std::string write_client_info_json(const ClientInfo& info) {
  // Key order as HEAD clients write it; ordered_json keeps insertion order.
  nlohmann::ordered_json j;
  if (info.mesh_key) j["meshKey"] = to_hex(*info.mesh_key);
  if (info.version != 0) j["version"] = info.version;
  j["CanAckPings"] = info.can_ack_pings;
  if (info.is_prober) j["IsProber"] = true;
  if (!info.app_name.empty()) j["AppName"] = info.app_name;
  return j.dump();
}

std::string write_server_info_json(const ServerInfo& info) {
  return "{\"version\":" + std::to_string(info.version) + "}";
}

std::optional<ServerInfo> parse_server_info_json(std::string_view text) {
  if (!nesting_within(text, 8)) return std::nullopt;
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  ServerInfo info{0};
  if (const auto* v = find_key(doc, "version"); v && v->is_number_integer()) {
    info.version = static_cast<int>(v->get<std::int64_t>());
  }
  return info;
}

}  // namespace derp::protocol
