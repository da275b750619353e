// The meta certificate ("derpkey" cert) that advertises the DERP server key in the TLS
// Certificate message (protocol §1.2.1), and the client-side scan for it.
#pragma once

#include <optional>
#include <string_view>

#include <openssl/ssl.h>

#include "relay/protocol/key.h"
#include "relay/tls/openssl_ptr.h"

namespace derp::tls {

inline constexpr std::string_view kMetaCertCnPrefix = "derpkey";
inline constexpr long kMetaCertVersion = 2;  // the serial number is the protocol version

// A self-signed certificate with a fresh Ed25519 key: serial 2, CN "derpkey<64 lowercase hex of
// server_key>", valid now-30d..now+30d, critical BasicConstraints CA:FALSE, and neither a
// SubjectKeyId nor an AuthorityKeyId (so derpprobe exempts it from expiry checks).
// Throws TlsError.
X509Ptr make_meta_cert(const protocol::NodePublic& server_key);

// The server key `cert` advertises when it is a usable meta cert: CN "derpkey" + 64 hex digits
// (either case) and a serial that is non-zero and at most 8 bits long.
std::optional<protocol::NodePublic> meta_cert_key(X509* cert);

// Scans the peer's certificates (client side: SSL_get_peer_cert_chain) for a usable meta cert.
// The caller uses it for fast start (protocol §1.3.2) only when negotiated_tls13(ssl).
std::optional<protocol::NodePublic> find_meta_cert_key(SSL* ssl);

// True when the handshake negotiated TLS 1.3 or later.
bool negotiated_tls13(SSL* ssl);

}  // namespace derp::tls
