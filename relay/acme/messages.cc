#include "relay/acme/messages.h"

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

namespace derp::acme {
namespace {

using Json = nlohmann::json;

struct Bad {
  std::string what;
};

const Json& object_of(const Json& j, std::string_view what) {
  if (!j.is_object()) throw Bad{std::string(what) + " is not a JSON object"};
  return j;
}

// An optional string member; present but not a string is an error.
std::string string_member(const Json& j, const char* name, bool required = false) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) throw Bad{std::string("\"") + name + "\" is missing"};
    return {};
  }
  if (!it->is_string()) throw Bad{std::string("\"") + name + "\" is not a string"};
  return it->get<std::string>();
}

std::vector<std::string> string_array(const Json& j, const char* name) {
  std::vector<std::string> out;
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) throw Bad{std::string("\"") + name + "\" is not an array"};
  for (const auto& v : *it) {
    if (!v.is_string()) throw Bad{std::string("\"") + name + "\" holds a non-string"};
    out.push_back(v.get<std::string>());
  }
  return out;
}

Identifier identifier_of(const Json& j) {
  object_of(j, "an identifier");
  return {string_member(j, "type", true), string_member(j, "value", true)};
}

Problem problem_of(const Json& j, int depth = 0) {
  object_of(j, "a problem document");
  Problem p;
  p.type = string_member(j, "type");
  p.detail = string_member(j, "detail");
  if (auto s = j.find("status"); s != j.end() && s->is_number_integer()) {
    p.status = static_cast<int>(std::clamp<std::int64_t>(s->get<std::int64_t>(), 0, 999));
  }
  if (auto id = j.find("identifier"); id != j.end() && id->is_object()) {
    p.identifier = string_member(*id, "value");
  }
  if (auto subs = j.find("subproblems"); subs != j.end() && subs->is_array() && depth == 0) {
    for (const auto& sub : *subs) p.subproblems.push_back(problem_of(sub, depth + 1));
  }
  return p;
}

std::optional<Problem> optional_problem(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return problem_of(*it);
}

Challenge challenge_of(const Json& j) {
  object_of(j, "a challenge");
  Challenge c;
  c.type = string_member(j, "type", true);
  c.url = string_member(j, "url", true);
  c.status = string_member(j, "status");
  c.token = string_member(j, "token");
  c.error = optional_problem(j, "error");
  return c;
}

template <typename T, typename F>
Parsed<T> parse_with(std::string_view text, std::string_view what, F&& read) {
  Parsed<T> r;
  if (text.size() > kMaxResponseBytes) {
    r.error = std::string(what) + ": larger than 1 MiB";
    return r;
  }
  auto j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    r.error = std::string(what) + ": not valid JSON";
    return r;
  }
  try {
    r.value = read(object_of(j, what));
  } catch (const Bad& bad) {
    r.error = std::string(what) + ": " + bad.what;
  } catch (const Json::exception& e) {
    r.error = std::string(what) + ": " + e.what();
  }
  return r;
}

}  // namespace

std::string Problem::short_type() const {
  constexpr std::string_view kPrefix = "urn:ietf:params:acme:error:";
  return type.starts_with(kPrefix) ? type.substr(kPrefix.size()) : type;
}

std::string Problem::text() const {
  std::string out = short_type().empty() ? "error" : short_type();
  if (!detail.empty()) out += ": " + detail;
  if (!subproblems.empty()) {
    out += " (";
    for (std::size_t i = 0; i < subproblems.size(); ++i) {
      if (i > 0) out += "; ";
      const auto& s = subproblems[i];
      if (!s.identifier.empty()) out += s.identifier + ": ";
      out += s.short_type() + (s.detail.empty() ? "" : ": " + s.detail);
    }
    out += ")";
  }
  return out;
}

const Challenge* Authorization::challenge(std::string_view type) const {
  for (const auto& c : challenges) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

Parsed<Directory> parse_directory(std::string_view text) {
  return parse_with<Directory>(text, "ACME directory", [](const Json& j) {
    Directory d;
    d.new_nonce = string_member(j, "newNonce", true);
    d.new_account = string_member(j, "newAccount", true);
    d.new_order = string_member(j, "newOrder", true);
    d.revoke_cert = string_member(j, "revokeCert");
    d.key_change = string_member(j, "keyChange");
    if (auto meta = j.find("meta"); meta != j.end() && meta->is_object()) {
      d.terms_of_service = string_member(*meta, "termsOfService");
      if (auto eab = meta->find("externalAccountRequired"); eab != meta->end()) {
        d.external_account_required = eab->is_boolean() && eab->get<bool>();
      }
    }
    return d;
  });
}

Parsed<Account> parse_account(std::string_view text) {
  return parse_with<Account>(text, "ACME account", [](const Json& j) {
    return Account{string_member(j, "status", true), string_member(j, "orders")};
  });
}

Parsed<Order> parse_order(std::string_view text) {
  return parse_with<Order>(text, "ACME order", [](const Json& j) {
    Order o;
    o.status = string_member(j, "status", true);
    o.expires = string_member(j, "expires");
    if (auto ids = j.find("identifiers"); ids != j.end() && ids->is_array()) {
      for (const auto& id : *ids) o.identifiers.push_back(identifier_of(id));
    }
    o.authorizations = string_array(j, "authorizations");
    o.finalize = string_member(j, "finalize", true);
    o.certificate = string_member(j, "certificate");
    o.error = optional_problem(j, "error");
    return o;
  });
}

Parsed<Challenge> parse_challenge(std::string_view text) {
  return parse_with<Challenge>(text, "ACME challenge", challenge_of);
}

Parsed<Authorization> parse_authorization(std::string_view text) {
  return parse_with<Authorization>(text, "ACME authorization", [](const Json& j) {
    Authorization a;
    auto id = j.find("identifier");
    if (id == j.end()) throw Bad{"\"identifier\" is missing"};
    a.identifier = identifier_of(*id);
    a.status = string_member(j, "status", true);
    a.expires = string_member(j, "expires");
    if (auto w = j.find("wildcard"); w != j.end()) a.wildcard = w->is_boolean() && w->get<bool>();
    auto challenges = j.find("challenges");
    if (challenges != j.end() && !challenges->is_array())
      throw Bad{"\"challenges\" is not an array"};
    if (challenges != j.end()) {
      for (const auto& c : *challenges) a.challenges.push_back(challenge_of(c));
    }
    return a;
  });
}

Parsed<Problem> parse_problem(std::string_view text) {
  return parse_with<Problem>(text, "ACME problem", [](const Json& j) { return problem_of(j); });
}

std::string new_order_payload(const std::vector<std::string>& names) {
  Json ids = Json::array();
  for (const auto& name : names) {
    boost::system::error_code ec;
    auto ip = boost::asio::ip::make_address(name, ec);
    ids.push_back({{"type", ec ? "dns" : "ip"}, {"value", ec ? name : ip.to_string()}});
  }
  return Json{{"identifiers", ids}}.dump();
}

}  // namespace derp::acme
