#include "relay/admission/admit_list.h"

#include <algorithm>

namespace derp::admission {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool same_target(const AdmitRule& a, std::string_view target) {
  return a.target() == target;
}

}  // namespace

std::string AdmitRule::target() const {
  if (const auto* key = std::get_if<protocol::NodePublic>(&what)) return key->to_text();
  return std::get<transport::IpPrefix>(what).to_string();
}

std::string AdmitRule::text() const {
  return std::string(allow ? "allow " : "deny ") + target();
}

bool AdmitList::has_allow_rules() const {
  return std::any_of(rules.begin(), rules.end(), [](const AdmitRule& r) { return r.allow; });
}

std::optional<std::variant<protocol::NodePublic, transport::IpPrefix>> parse_admit_target(
    std::string_view text) {
  if (text.starts_with("nodekey:")) {
    if (auto key = protocol::parse_node_public(text)) return *key;
    return std::nullopt;
  }
  if (auto prefix = transport::IpPrefix::parse(text)) return *prefix;
  return std::nullopt;
}

std::optional<AdmitList> parse_admit_list(std::string_view text, std::string& error) {
  AdmitList list;
  int number = 0;
  while (!text.empty()) {
    ++number;
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const auto space = line.find_first_of(" \t");
    const std::string_view word = line.substr(0, space);
    const std::string_view target =
        space == std::string_view::npos ? std::string_view() : trim(line.substr(space));
    if (word != "allow" && word != "deny") {
      error = "line " + std::to_string(number) + ": starts with neither allow nor deny";
      return std::nullopt;
    }
    auto what = parse_admit_target(target);
    if (!what) {
      error = "line " + std::to_string(number) +
              ": not a node key (nodekey:<64 hex>) or an address range";
      return std::nullopt;
    }
    list.rules.push_back(AdmitRule{word == "allow", *what});
  }
  return list;
}

std::string format_admit_list(const AdmitList& list) {
  std::string out =
      "# derpd admission rules: allow|deny nodekey:<hex>|address[/bits], one per line.\n"
      "# A matching deny wins; derpctl admit edits this file.\n";
  for (const auto& r : list.rules) out += r.text() + "\n";
  return out;
}

bool matches(const AdmitRule& rule, const protocol::NodePublic& key,
             const std::optional<boost::asio::ip::address>& source) {
  if (const auto* k = std::get_if<protocol::NodePublic>(&rule.what)) return *k == key;
  return source && std::get<transport::IpPrefix>(rule.what).contains(*source);
}

ListDecision decide(const AdmitList& list, const protocol::NodePublic& key,
                    const std::optional<boost::asio::ip::address>& source) {
  ListDecision out;
  for (const auto& r : list.rules) {
    if (!matches(r, key, source)) continue;
    if (!r.allow) return {ListVerdict::kDeny, r.text()};
    if (out.verdict == ListVerdict::kNoMatch) out = {ListVerdict::kAllow, r.text()};
  }
  return out;
}

std::string set_rule(AdmitList& list, bool allow, std::string_view target) {
  auto what = parse_admit_target(trim(target));
  if (!what) return "\"" + std::string(target) + "\" is not a node key or an address range";
  AdmitRule rule{allow, *what};
  const std::string normal = rule.target();
  std::erase_if(list.rules, [&](const AdmitRule& r) { return same_target(r, normal); });
  list.rules.push_back(std::move(rule));
  return "";
}

std::string remove_rule(AdmitList& list, std::string_view target) {
  auto what = parse_admit_target(trim(target));
  if (!what) return "\"" + std::string(target) + "\" is not a node key or an address range";
  const std::string normal = AdmitRule{false, *what}.target();
  const auto before = list.rules.size();
  std::erase_if(list.rules, [&](const AdmitRule& r) { return same_target(r, normal); });
  if (list.rules.size() == before) return "no rule for " + normal;
  return "";
}

}  // namespace derp::admission
