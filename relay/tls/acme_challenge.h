// The TLS side of ACME's TLS-ALPN-01 challenge (RFC 8737, RFC 8738 §6): the certificate that
// answers it, and recognising a challenge handshake among the DERP clients' ones on the same
// listener. The CA's validation connects, offers ALPN "acme-tls/1", checks the certificate and
// closes: such a connection never reaches HTTP or DERP.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include "relay/tls/acme_crypto.h"
#include "relay/tls/openssl_ptr.h"

namespace derp::tls {

inline constexpr std::string_view kAcmeTlsAlpn = "acme-tls/1";

struct ChallengeCert {
  X509Ptr cert;
  EvpPkeyPtr key;
};

// A fresh self-signed certificate for `identifier` (a DNS name, or an IP literal as an IP SAN)
// carrying the critical acmeIdentifier extension with `digest`. Throws TlsError.
std::shared_ptr<const ChallengeCert> make_tls_alpn01_cert(const std::string& identifier,
                                                          const Bytes32& digest);

// The challenge certificate for a ClientHello's SNI (lower-case, no trailing dot; for an IP
// identifier the reverse name of RFC 8738 §6), or null when no challenge is pending for it.
using AcmeChallengeLookup =
    std::function<std::shared_ptr<const ChallengeCert>(std::string_view sni)>;

// A server name as lookups compare it: lower case, without a trailing dot.
std::string canonical_server_name(std::string_view name);

// "1.0.0.127.in-addr.arpa" for 127.0.0.1, the nibble form under ip6.arpa for IPv6; nullopt when
// `ip` is not an IP literal.
std::optional<std::string> reverse_dns_name(std::string_view ip);

// Readers of the two ClientHello extensions the server looks at before OpenSSL does, over the
// extension's body as sent (pure, bounds-checked: the bytes are a stranger's).
// Whether the ALPN extension body (RFC 7301 §3.1) lists `protocol`.
bool alpn_offers(std::span<const unsigned char> extension, std::string_view protocol);
// The host_name of a server_name extension body (RFC 6066 §3), or "" when absent or malformed.
std::string sni_host_name(std::span<const unsigned char> extension);

// Called from a ClientHello callback: when the client offers acme-tls/1 and `lookup` has a
// certificate for its SNI, makes this handshake present that certificate alone and returns true.
// Returns false, leaving the handshake alone, when acme-tls/1 is not offered; sets `refuse` when
// it is offered but nothing is pending for that name.
bool take_acme_challenge(SSL* ssl, const AcmeChallengeLookup& lookup, bool& refuse);
// Whether take_acme_challenge took this handshake: it must be closed once the handshake ends.
bool is_acme_challenge(const SSL* ssl);

}  // namespace derp::tls
