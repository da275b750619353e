#include "relay/admission/controller_protocol.h"

#include <boost/algorithm/string/predicate.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "relay/logging/printable.h"

namespace derp::admission {

std::string controller_request_body(const protocol::NodePublic& key, std::string_view source_ip) {
  nlohmann::json j;
  j["NodePublic"] = key.to_text();
  j["Source"] = std::string(source_ip);
  return j.dump();
}

Verdict controller_verdict(unsigned status, std::string_view body) {
  if (status != 200) return {false, "controller answered HTTP " + std::to_string(status)};
  nlohmann::json j;
  try {
    // operator>> reads one JSON value and leaves the rest, as Go's json.Decoder does.
    std::istringstream in{std::string(body.substr(0, kMaxControllerBody))};
    in >> j;
  } catch (const nlohmann::json::exception&) {
    return {false, "controller's answer is not JSON"};
  }
  if (!j.is_object()) return {false, "controller's answer is not a JSON object"};
  const nlohmann::json* allow = nullptr;
  for (const auto& [name, value] : j.items()) {
    if (boost::iequals(name, "allow")) allow = &value;
  }
  if (allow && !allow->is_boolean() && !allow->is_null()) {
    return {false, "controller's \"Allow\" is not true or false"};
  }
  if (!allow || !allow->is_boolean() || !allow->get<bool>()) {
    return {false, "controller said Allow:false"};
  }
  return {true, ""};
}

std::string whois_target(const protocol::NodePublic& key) {
  return "/localapi/v0/whois?addr=nodekey%3A" + key.to_hex();
}

Verdict whois_verdict(unsigned status, std::string_view body) {
  if (status == 200) return {true, ""};
  if (status == 404) return {false, "not a node of this tailnet (tailscaled whois: 404)"};
  std::string text = logging::printable(body, 200);
  if (body.find("invalid 'addr' parameter") != std::string_view::npos) {
    return {false,
            "tailscaled is too old for --verify-clients (it does not know node-key "
            "lookups); upgrade it"};
  }
  return {false, "tailscaled whois answered HTTP " + std::to_string(status) +
                     (text.empty() ? "" : ": " + text)};
}

}  // namespace derp::admission
