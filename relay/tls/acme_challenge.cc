#include "relay/tls/acme_challenge.h"

#include <arpa/inet.h>

#include <cctype>
#include <vector>

#include "relay/tls/cert_builder.h"
#include "relay/tls/ssl_mark.h"
#include "relay/tls/tls_error.h"

namespace derp::tls {
namespace {

// Marks a handshake that take_acme_challenge took.
const SslMark& challenge_mark() {
  static const SslMark mark;
  return mark;
}

unsigned read_u16(std::span<const unsigned char> b, std::size_t at) {
  return (unsigned{b[at]} << 8) | b[at + 1];
}

}  // namespace

std::shared_ptr<const ChallengeCert> make_tls_alpn01_cert(const std::string& identifier,
                                                          const Bytes32& digest) {
  auto out = std::make_shared<ChallengeCert>();
  out->key = generate_p256_key();
  CertSpec spec;
  spec.common_name = "derpd ACME challenge";
  if (reverse_dns_name(identifier)) {
    spec.ip_addresses = {identifier};
  } else {
    spec.dns_names = {identifier};
  }
  spec.lifetime_seconds = 7 * 24 * 60 * 60;
  spec.not_before_offset_seconds = -60 * 60;
  spec.acme_identifier.assign(digest.begin(), digest.end());
  out->cert = issue_cert(spec, out->key.get());
  return out;
}

std::string canonical_server_name(std::string_view name) {
  if (name.ends_with('.')) name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> reverse_dns_name(std::string_view ip) {
  std::string text(ip);
  unsigned char bytes[16];
  static const char kHex[] = "0123456789abcdef";
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    std::string out;
    for (int i = 3; i >= 0; --i) out += std::to_string(bytes[i]) + ".";
    return out + "in-addr.arpa";
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    std::string out;
    for (int i = 15; i >= 0; --i) {
      out += kHex[bytes[i] & 0xf];
      out += '.';
      out += kHex[bytes[i] >> 4];
      out += '.';
    }
    return out + "ip6.arpa";
  }
  return std::nullopt;
}

bool alpn_offers(std::span<const unsigned char> ext, std::string_view protocol) {
  if (ext.size() < 2 || read_u16(ext, 0) != ext.size() - 2) return false;
  for (std::size_t at = 2; at < ext.size();) {
    std::size_t len = ext[at];
    if (len == 0 || at + 1 + len > ext.size()) return false;
    std::string_view name(reinterpret_cast<const char*>(ext.data() + at + 1), len);
    if (name == protocol) return true;
    at += 1 + len;
  }
  return false;
}

std::string sni_host_name(std::span<const unsigned char> ext) {
  if (ext.size() < 2 || read_u16(ext, 0) != ext.size() - 2) return "";
  for (std::size_t at = 2; at + 3 <= ext.size();) {
    unsigned type = ext[at];
    std::size_t len = read_u16(ext, at + 1);
    if (at + 3 + len > ext.size()) return "";
    if (type == 0 /* host_name */) {
      return std::string(reinterpret_cast<const char*>(ext.data() + at + 3), len);
    }
    at += 3 + len;
  }
  return "";
}

bool take_acme_challenge(SSL* ssl, const AcmeChallengeLookup& lookup, bool& refuse) {
  refuse = false;
  const unsigned char* alpn = nullptr;
  std::size_t alpn_len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &alpn,
                                &alpn_len) != 1 ||
      !alpn_offers({alpn, alpn_len}, kAcmeTlsAlpn)) {
    return false;
  }
  const unsigned char* sni = nullptr;
  std::size_t sni_len = 0;
  std::string name;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &sni, &sni_len) == 1) {
    name = canonical_server_name(sni_host_name({sni, sni_len}));
  }
  auto cert = lookup ? lookup(name) : nullptr;
  if (!cert) {
    refuse = true;
    return false;
  }
  // SSL_certs_clear first: SSL_use_certificate replaces only the slot of the new key's type, and
  // an RSA certificate left in its slot could still be chosen.
  SSL_certs_clear(ssl);
  if (SSL_use_certificate(ssl, cert->cert.get()) != 1 ||
      SSL_use_PrivateKey(ssl, cert->key.get()) != 1 || SSL_clear_chain_certs(ssl) != 1 ||
      !challenge_mark().set(ssl)) {
    refuse = true;
    return false;
  }
  return true;
}

bool is_acme_challenge(const SSL* ssl) {
  return challenge_mark().is_set(ssl);
}

}  // namespace derp::tls
