// The signed requests of an ACME client (RFC 8555 §6.2, RFC 7515 flattened JSON with ES256) and
// the values its challenges answer with (key authorisation, RFC 8555 §8.1; TLS-ALPN-01 digest,
// RFC 8737; HTTP-01 path, §8.3). Pure: no I/O, no clock; the keys and nonces come from the caller.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "relay/tls/acme_crypto.h"

namespace derp::acme {

// base64url without padding (RFC 7515 §2).
std::string base64url(std::span<const std::uint8_t> bytes);
std::string base64url(std::string_view text);
// Either base64 alphabet, with or without '=' padding: what CAs hand out as an EAB key varies.
// nullopt on anything else.
std::optional<std::vector<std::uint8_t>> decode_base64_any(std::string_view text);

// The account key's JWK in RFC 7638's canonical form (members in lexicographic order, no
// spaces): {"crv":"P-256","kty":"EC","x":"…","y":"…"}.
std::string jwk_json(const tls::P256Point& point);
// base64url(SHA-256(canonical JWK)), RFC 7638.
std::string jwk_thumbprint(const tls::P256Point& point);

// A request body: {"protected":…,"payload":…,"signature":…}. The protected header carries "kid"
// (the account URL) when `kid` is set, else the account key's "jwk" (newAccount, revokeCert by
// key). An empty `payload` is a POST-as-GET (§6.3).
std::string sign_request(EVP_PKEY* account_key, std::string_view kid, std::string_view nonce,
                         std::string_view url, std::string_view payload);

// The externalAccountBinding member of a newAccount payload (§7.3.4): the account JWK signed
// with HS256 under the CA's `eab_kid` and MAC key, for `new_account_url`.
std::string external_account_binding(const tls::P256Point& account_point, std::string_view eab_kid,
                                     std::span<const std::uint8_t> mac_key,
                                     std::string_view new_account_url);

// token "." thumbprint (§8.1).
std::string key_authorization(std::string_view token, std::string_view thumbprint);
// What TLS-ALPN-01 puts in the acmeIdentifier extension: SHA-256 of the key authorisation.
tls::Bytes32 tls_alpn01_digest(std::string_view key_authorization);
// Where HTTP-01 is fetched: /.well-known/acme-challenge/<token>.
std::string http01_path(std::string_view token);
// Whether `token` may be used in that path: base64url characters only (§8.3), at most 256.
bool valid_token(std::string_view token);

}  // namespace derp::acme
