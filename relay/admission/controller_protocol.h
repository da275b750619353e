// What derpd sends to, and makes of the answers from, the two admission checks of protocol §4.9:
// a tailscaled's LocalAPI whois (--verify-clients) and an admission controller URL
// (--verify-client-url). Pure functions: the calls themselves are in admission_calls.h.
#pragma once

#include <string>
#include <string_view>

#include "relay/protocol/key.h"

namespace derp::admission {

struct Verdict {
  bool admit = false;
  std::string reason;  // why not, in operator words ("controller said Allow:false")
};

// --verify-client-url: the POST body, {"NodePublic":"nodekey:<hex>","Source":"<ip or empty>"}.
std::string controller_request_body(const protocol::NodePublic& key, std::string_view source_ip);
// The controller's answer: only status 200 with a JSON object whose "Allow" (any case) is true
// admits. Like the reference's decoder, the first JSON value of the body counts and what follows
// it is ignored; the caller passes at most kMaxControllerBody bytes of the body.
Verdict controller_verdict(unsigned status, std::string_view body);
inline constexpr std::size_t kMaxControllerBody = 4096;

// --verify-clients: the LocalAPI request target for `key`.
std::string whois_target(const protocol::NodePublic& key);
// tailscaled's answer: 200 admits, 404 is an unknown node, anything else rejects. `body` is read
// for tailscaled's error text ("invalid 'addr' parameter" means it is too old).
Verdict whois_verdict(unsigned status, std::string_view body);

}  // namespace derp::admission
