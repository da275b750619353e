#include "relay/acme/jws.h"

#include <nlohmann/json.hpp>

namespace derp::acme {
namespace {

constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return -1;
}

std::string compact(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
}

}  // namespace

namespace {

// RFC 7515's flattened JSON serialisation: the header and payload, base64url'd, and `sign`'s
// signature over "protected.payload".
template <typename Sign>
std::string flattened_jws(const nlohmann::ordered_json& header, const std::string& payload64,
                          Sign&& sign) {
  const std::string protected64 = base64url(compact(header));
  const auto signature = sign(protected64 + "." + payload64);
  nlohmann::ordered_json body;
  body["protected"] = protected64;
  body["payload"] = payload64;
  body["signature"] = base64url(signature);
  return compact(body);
}

}  // namespace

std::string base64url(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    for (int shift : {18, 12, 6, 0}) out += kUrlAlphabet[(v >> shift) & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    std::uint32_t v = bytes[i] << 16;
    if (rest == 2) v |= bytes[i + 1] << 8;
    out += kUrlAlphabet[(v >> 18) & 63];
    out += kUrlAlphabet[(v >> 12) & 63];
    if (rest == 2) out += kUrlAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string base64url(std::string_view text) {
  return base64url(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()),
                                                 text.size()));
}

std::optional<std::vector<std::uint8_t>> decode_base64_any(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::vector<std::uint8_t> out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = sextet(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return std::nullopt;  // non-zero padding bits: not a canonical encoding
  return out;
}

std::string jwk_json(const tls::P256Point& point) {
  return R"({"crv":"P-256","kty":"EC","x":")" + base64url(point.x) + R"(","y":")" +
         base64url(point.y) + R"("})";
}

std::string jwk_thumbprint(const tls::P256Point& point) {
  return base64url(tls::sha256(jwk_json(point)));
}

std::string sign_request(EVP_PKEY* account_key, std::string_view kid, std::string_view nonce,
                         std::string_view url, std::string_view payload) {
  nlohmann::ordered_json header;
  header["alg"] = "ES256";
  if (kid.empty()) {
    header["jwk"] = nlohmann::ordered_json::parse(jwk_json(tls::p256_public_point(account_key)));
  } else {
    header["kid"] = std::string(kid);
  }
  header["nonce"] = std::string(nonce);
  header["url"] = std::string(url);
  return flattened_jws(
      header, payload.empty() ? std::string() : base64url(payload),
      [&](const std::string& input) { return tls::es256_sign(account_key, input); });
}

std::string external_account_binding(const tls::P256Point& account_point, std::string_view eab_kid,
                                     std::span<const std::uint8_t> mac_key,
                                     std::string_view new_account_url) {
  nlohmann::ordered_json header;
  header["alg"] = "HS256";
  header["kid"] = std::string(eab_kid);
  header["url"] = std::string(new_account_url);
  return flattened_jws(header, base64url(jwk_json(account_point)),
                       [&](const std::string& input) { return tls::hmac_sha256(mac_key, input); });
}

std::string key_authorization(std::string_view token, std::string_view thumbprint) {
  return std::string(token) + "." + std::string(thumbprint);
}

tls::Bytes32 tls_alpn01_digest(std::string_view key_authorization) {
  return tls::sha256(key_authorization);
}

std::string http01_path(std::string_view token) {
  return "/.well-known/acme-challenge/" + std::string(token);
}

bool valid_token(std::string_view token) {
  if (token.empty() || token.size() > 256) return false;
  for (char c : token) {
    if (sextet(c) < 0 || c == '+' || c == '/') return false;
  }
  return true;
}

}  // namespace derp::acme
