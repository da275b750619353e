// derpd's own allow and deny lists (--admit-file, `derpctl admit`): node keys and source
// address ranges, one rule per line:
//
//   # comment
//   allow nodekey:4a6f…      a node, whatever its address
//   deny  192.0.2.0/24       every client from there
//
// A deny that matches wins. An allow that matches admits without asking tailscaled or the
// controller. With allow rules and no other check, a client that matches none is refused.
// Pure: parsing, matching and editing; the file and the admin API are the node's.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "relay/protocol/key.h"
#include "relay/transport/ip_prefix.h"

namespace derp::admission {

struct AdmitRule {
  bool allow = false;
  std::variant<protocol::NodePublic, transport::IpPrefix> what;
  std::string text() const;    // "allow nodekey:…" / "deny 192.0.2.0/24"
  std::string target() const;  // "nodekey:…" / "192.0.2.0/24"
};

struct AdmitList {
  std::vector<AdmitRule> rules;
  bool has_allow_rules() const;
};

// Parses a file's text. On error returns nullopt and sets `error` to "line N: …".
std::optional<AdmitList> parse_admit_list(std::string_view text, std::string& error);
// The file's text: a header comment, then one rule per line.
std::string format_admit_list(const AdmitList& list);

// "nodekey:<hex>" or an address range; nullopt when it is neither.
std::optional<std::variant<protocol::NodePublic, transport::IpPrefix>> parse_admit_target(
    std::string_view text);

enum class ListVerdict { kNoMatch, kAllow, kDeny };
struct ListDecision {
  ListVerdict verdict = ListVerdict::kNoMatch;
  std::string rule;  // the rule that decided
};
ListDecision decide(const AdmitList& list, const protocol::NodePublic& key,
                    const std::optional<boost::asio::ip::address>& source);
// Whether `rule` matches a client (for closing connected clients a new deny rule names).
bool matches(const AdmitRule& rule, const protocol::NodePublic& key,
             const std::optional<boost::asio::ip::address>& source);

// Edits: adds `allow`/`deny` for the target (replacing a rule for the same target) or removes the
// rule for it. Returns "" or why not ("not a node key or address range", "no rule for …").
std::string set_rule(AdmitList& list, bool allow, std::string_view target);
std::string remove_rule(AdmitList& list, std::string_view target);

}  // namespace derp::admission
