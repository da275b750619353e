// The cryptography an ACME client (RFC 8555) needs, as relay/acme uses it: the account key's
// public point for its JWK, ES256 signatures in JWS form (r‖s, not DER), SHA-256, HMAC-SHA256 for
// External Account Binding, and the CSR. Every OpenSSL call of the project stays in relay/tls.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "relay/tls/openssl_ptr.h"

namespace derp::tls {

using Bytes32 = std::array<std::uint8_t, 32>;

struct P256Point {
  Bytes32 x{};
  Bytes32 y{};
};

// The public point of a P-256 key. Throws TlsError for any other kind of key.
P256Point p256_public_point(EVP_PKEY* key);
// A P-256 key from its private scalar (the "d" of a JWK), public point computed. Throws TlsError.
EvpPkeyPtr p256_key_from_private(const Bytes32& d);
// A P-256 public key from its point. Throws TlsError when the point is not on the curve.
EvpPkeyPtr p256_public_key(const P256Point& point);

// ECDSA P-256 with SHA-256 over `signing_input`, as JWS's ES256: r and s, 32 bytes each.
std::array<std::uint8_t, 64> es256_sign(EVP_PKEY* key, std::string_view signing_input);
bool es256_verify(EVP_PKEY* public_key, std::string_view signing_input,
                  std::span<const std::uint8_t> signature);

Bytes32 sha256(std::string_view data);
Bytes32 hmac_sha256(std::span<const std::uint8_t> key, std::string_view data);

// A PKCS#10 request (DER) for `key`, every name as a SAN (IP literals as IP SANs), signed with
// SHA-256. Throws TlsError.
std::vector<std::uint8_t> make_csr_der(EVP_PKEY* key, const std::vector<std::string>& names);

}  // namespace derp::tls
