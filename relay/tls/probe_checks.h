// derpprobe's certificate checks on a client handshake (protocol §10), for `derpctl probe`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <openssl/ssl.h>

namespace derp::tls {

inline constexpr std::int64_t kProbeMinRemainingSeconds = 7LL * 24 * 60 * 60;

// Unix seconds as "2025-01-02T03:04:05Z".
std::string utc_text(std::int64_t unix_seconds);

// Every peer certificate that is not self-identified (SKI != AKI; the meta cert qualifies as
// self-identified) must have NotBefore <= now and must not expire within `min_remaining_seconds`.
// Returns one line per failing certificate, e.g.
// "certificate CN=derp.example.com expires in 3 days (2025-01-02T03:04:05Z)"; empty when all pass.
std::vector<std::string> check_peer_cert_dates(
    SSL* ssl, std::int64_t now_unix,
    std::int64_t min_remaining_seconds = kProbeMinRemainingSeconds);

// Why certificate verification failed in the last handshake, in OpenSSL's words ("certificate
// has expired", "unable to get local issuer certificate"); "" when it did not fail.
std::string verify_failure(SSL* ssl);

// NotAfter of the peer's leaf certificate as Unix seconds; 0 without a peer certificate.
std::int64_t peer_leaf_not_after(SSL* ssl);

}  // namespace derp::tls
