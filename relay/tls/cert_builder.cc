#include "relay/tls/cert_builder.h"

#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <memory>

#include "relay/tls/tls_error.h"

namespace derp::tls {
namespace {

void check(int ok, std::string_view step) {
  if (ok != 1) throw TlsError(openssl_error("tls: issuing certificate: " + std::string(step)));
}

void add_conf_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext) throw TlsError(openssl_error("tls: issuing certificate: extension " + value));
  check(X509_add_ext(cert, ext.get(), -1), "add extension " + value);
}

void add_subject_alt_names(X509* cert, const CertSpec& spec) {
  if (spec.dns_names.empty() && spec.ip_addresses.empty()) return;
  GENERAL_NAMES* names = make_general_names(spec.dns_names, spec.ip_addresses);
  int ok = X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT);
  GENERAL_NAMES_free(names);
  check(ok, "add subjectAltName");
}

// id-pe-acmeIdentifier, critical, whose value is the DER OCTET STRING of the digest.
void add_acme_identifier(X509* cert, const std::vector<std::uint8_t>& digest) {
  std::unique_ptr<ASN1_OBJECT, OpenSslDeleter<ASN1_OBJECT_free>> oid(
      OBJ_txt2obj("1.3.6.1.5.5.7.1.31", /*no_name=*/1));
  std::unique_ptr<ASN1_OCTET_STRING, OpenSslDeleter<ASN1_OCTET_STRING_free>> inner(
      ASN1_OCTET_STRING_new());
  if (!oid || !inner ||
      ASN1_OCTET_STRING_set(inner.get(), digest.data(), static_cast<int>(digest.size())) != 1) {
    throw TlsError(openssl_error("tls: issuing certificate: acmeIdentifier"));
  }
  unsigned char* der = nullptr;
  int der_len = i2d_ASN1_OCTET_STRING(inner.get(), &der);
  std::unique_ptr<ASN1_OCTET_STRING, OpenSslDeleter<ASN1_OCTET_STRING_free>> value(
      ASN1_OCTET_STRING_new());
  bool ok = der_len > 0 && value && ASN1_OCTET_STRING_set(value.get(), der, der_len) == 1;
  OPENSSL_free(der);
  if (!ok) throw TlsError(openssl_error("tls: issuing certificate: acmeIdentifier"));
  X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), /*crit=*/1, value.get()));
  if (!ext) throw TlsError(openssl_error("tls: issuing certificate: acmeIdentifier"));
  check(X509_add_ext(cert, ext.get(), -1), "add acmeIdentifier");
}

}  // namespace

GENERAL_NAMES* make_general_names(const std::vector<std::string>& dns_names,
                                  const std::vector<std::string>& ip_addresses) {
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  auto push = [&](GENERAL_NAME* gn, const std::string& what) {
    if (gn == nullptr || sk_GENERAL_NAME_push(names, gn) == 0) {
      GENERAL_NAME_free(gn);
      GENERAL_NAMES_free(names);
      throw TlsError(openssl_error("tls: bad subjectAltName " + what));
    }
  };
  for (const auto& dns : dns_names) {
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    ASN1_STRING_set(ia5, dns.data(), static_cast<int>(dns.size()));
    GENERAL_NAME* gn = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
    push(gn, dns);
  }
  for (const auto& ip : ip_addresses) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    GENERAL_NAME* gn = nullptr;
    if (octets != nullptr) {
      gn = GENERAL_NAME_new();
      GENERAL_NAME_set0_value(gn, GEN_IPADD, octets);
    }
    push(gn, ip);
  }
  return names;
}

EvpPkeyPtr generate_p256_key() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw TlsError(openssl_error("tls: ECDSA P-256 key generation failed"));
  return key;
}

X509Ptr issue_cert(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                   EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert) throw TlsError(openssl_error("tls: issuing certificate: X509_new"));
  check(X509_set_version(cert.get(), X509_VERSION_3), "set version");

  BignumPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    throw TlsError(openssl_error("tls: issuing certificate: serial"));
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_offset_seconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                      spec.not_before_offset_seconds + spec.lifetime_seconds) == nullptr) {
    throw TlsError(openssl_error("tls: issuing certificate: validity"));
  }

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!spec.common_name.empty()) {
    check(X509_NAME_add_entry_by_NID(
              name, NID_commonName, V_ASN1_UTF8STRING,  // no 64-character bound
              reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0),
          "set CN");
  }
  check(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name),
        "set issuer");
  check(X509_set_pubkey(cert.get(), subject_key), "set public key");

  // Only key identifier extensions look at the context; without key_identifiers no context is
  // passed at all, so OpenSSL adds no SubjectKeyId/AuthorityKeyId on its own.
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  add_conf_ext(cert.get(), nullptr, NID_basic_constraints,
               spec.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  if (!spec.key_usage.empty()) add_conf_ext(cert.get(), nullptr, NID_key_usage, spec.key_usage);
  if (!spec.ext_key_usage.empty()) {
    add_conf_ext(cert.get(), nullptr, NID_ext_key_usage, spec.ext_key_usage);
  }
  if (spec.key_identifiers) {
    add_conf_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash");
    if (issuer != nullptr) add_conf_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid");
  }
  add_subject_alt_names(cert.get(), spec);
  if (!spec.acme_identifier.empty()) add_acme_identifier(cert.get(), spec.acme_identifier);

  EVP_PKEY* signer = issuer ? issuer_key : subject_key;
  if (X509_sign(cert.get(), signer, EVP_sha256()) <= 0) {
    throw TlsError(openssl_error("tls: issuing certificate: sign"));
  }
  return cert;
}

}  // namespace derp::tls
