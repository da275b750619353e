#include "relay/tls/meta_cert.h"

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include <string>

#include "relay/tls/cert_fields.h"
#include "relay/tls/tls_error.h"

namespace derp::tls {
namespace {

constexpr long kThirtyDays = 30L * 24 * 60 * 60;

void check(int ok, std::string_view step) {
  if (ok != 1) throw TlsError(openssl_error("tls: meta cert: " + std::string(step)));
}

}  // namespace

X509Ptr make_meta_cert(const protocol::NodePublic& server_key) {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) throw TlsError(openssl_error("tls: meta cert: Ed25519 key generation failed"));

  X509Ptr cert(X509_new());
  if (!cert) throw TlsError(openssl_error("tls: meta cert: X509_new"));
  check(X509_set_version(cert.get(), X509_VERSION_3), "set version");
  check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), kMetaCertVersion), "set serial");
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kThirtyDays) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), kThirtyDays) == nullptr) {
    throw TlsError(openssl_error("tls: meta cert: set validity"));
  }

  std::string cn = std::string(kMetaCertCnPrefix) + server_key.to_hex();
  X509_NAME* name = X509_get_subject_name(cert.get());
  // The CN is 71 characters, over X.520's 64-character bound that OpenSSL's MBSTRING_* path
  // enforces; Go does not enforce it. Passing the ASN.1 type directly skips the check and gives
  // the PrintableString Go writes.
  check(X509_NAME_add_entry_by_NID(name, NID_commonName, V_ASN1_PRINTABLESTRING,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0),
        "set CN");
  check(X509_set_issuer_name(cert.get(), name), "set issuer");
  check(X509_set_pubkey(cert.get(), key.get()), "set public key");

  // Built without an X509V3_CTX, so nothing adds a SubjectKeyId or AuthorityKeyId on the side
  // (OpenSSL 3 derives them when a config-driven context is used).
  X509ExtensionPtr bc(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:FALSE"));
  if (!bc) throw TlsError(openssl_error("tls: meta cert: BasicConstraints"));
  check(X509_add_ext(cert.get(), bc.get(), -1), "add BasicConstraints");

  // Ed25519 signs the message itself: no digest.
  if (X509_sign(cert.get(), key.get(), nullptr) <= 0) {
    throw TlsError(openssl_error("tls: meta cert: sign"));
  }
  return cert;
}

std::optional<protocol::NodePublic> meta_cert_key(X509* cert) {
  std::string cn = common_name(cert);
  if (!cn.starts_with(kMetaCertCnPrefix)) return std::nullopt;
  auto bytes = protocol::parse_hex32(std::string_view(cn).substr(kMetaCertCnPrefix.size()));
  if (!bytes) return std::nullopt;

  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!serial || BN_is_negative(serial.get()) || BN_is_zero(serial.get()) ||
      BN_num_bits(serial.get()) > 8) {
    return std::nullopt;
  }
  return protocol::NodePublic{*bytes};
}

std::optional<protocol::NodePublic> find_meta_cert_key(SSL* ssl) {
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (chain == nullptr) return std::nullopt;
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    if (auto key = meta_cert_key(sk_X509_value(chain, i))) return key;
  }
  return std::nullopt;
}

bool negotiated_tls13(SSL* ssl) {
  return SSL_version(ssl) >= TLS1_3_VERSION;
}

}  // namespace derp::tls
