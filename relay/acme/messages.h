// The ACME server's JSON objects (RFC 8555 §7.1) as the client reads them: directory, account,
// order, authorisation with its challenges, and problem documents (RFC 7807, §6.7). Pure parsers
// of what a CA (or anyone answering in its place) sends: each returns the object or says what is
// wrong with the text. Unknown members are ignored, as the RFC asks.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace derp::acme {

template <typename T>
struct Parsed {
  std::optional<T> value;
  std::string error;  // set when value is empty
};

struct Directory {
  std::string new_nonce;
  std::string new_account;
  std::string new_order;
  std::string revoke_cert;
  std::string key_change;
  std::string terms_of_service;
  bool external_account_required = false;
};

struct Problem {
  std::string type;  // "urn:ietf:params:acme:error:rateLimited", …
  std::string detail;
  int status = 0;
  std::vector<Problem> subproblems;
  std::string identifier;  // for a subproblem: the identifier it is about

  // The short name of an ACME error type ("rateLimited"), or the type as given.
  std::string short_type() const;
  // "rateLimited: too many certificates … (subproblems: …)", for logs.
  std::string text() const;
};

struct Identifier {
  std::string type;  // "dns" or "ip"
  std::string value;
  bool operator==(const Identifier&) const = default;
};

struct Account {
  std::string status;  // valid, deactivated, revoked
  std::string orders;
};

struct Order {
  std::string status;  // pending, ready, processing, valid, invalid
  std::string expires;
  std::vector<Identifier> identifiers;
  std::vector<std::string> authorizations;
  std::string finalize;
  std::string certificate;  // once valid
  std::optional<Problem> error;
};

struct Challenge {
  std::string type;  // http-01, tls-alpn-01, dns-01, …
  std::string url;
  std::string status;
  std::string token;
  std::optional<Problem> error;
};

struct Authorization {
  Identifier identifier;
  std::string status;  // pending, valid, invalid, deactivated, expired, revoked
  std::string expires;
  std::vector<Challenge> challenges;
  bool wildcard = false;

  // The challenge of `type`, if the CA offers it.
  const Challenge* challenge(std::string_view type) const;
};

// Responses larger than this are refused: every object above is a few KiB at most.
inline constexpr std::size_t kMaxResponseBytes = 1 << 20;

Parsed<Directory> parse_directory(std::string_view text);
Parsed<Account> parse_account(std::string_view text);
Parsed<Order> parse_order(std::string_view text);
Parsed<Authorization> parse_authorization(std::string_view text);
Parsed<Challenge> parse_challenge(std::string_view text);
Parsed<Problem> parse_problem(std::string_view text);

// The payload of a newOrder request for these names (IP literals as "ip" identifiers, RFC 8738).
std::string new_order_payload(const std::vector<std::string>& names);

}  // namespace derp::acme
