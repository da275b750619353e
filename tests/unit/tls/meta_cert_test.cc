// Meta cert contents (protocol §1.2.1) and the client's parsing rules for it.
#include "relay/tls/meta_cert.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "relay/tls/cert_builder.h"
#include "relay/tls/cert_fields.h"

namespace derp::tls {
namespace {

protocol::NodePublic test_key() {
  return protocol::NodePrivate::generate().public_key();
}

// Round-trips through DER as a client would receive it.
X509Ptr reparse(X509* cert) {
  auto der = der_bytes(cert);
  const unsigned char* p = der.data();
  return X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

TEST(MetaCert, FieldsMatchTheReference) {
  auto key = test_key();
  X509Ptr made = make_meta_cert(key);
  X509Ptr cert = reparse(made.get());
  ASSERT_TRUE(cert);

  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(ASN1_INTEGER_get(X509_get0_serialNumber(cert.get())), 2);
  EXPECT_EQ(common_name(cert.get()), "derpkey" + key.to_hex());
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())), 0);

  EXPECT_EQ(X509_get_ext_by_NID(cert.get(), NID_subject_key_identifier, -1), -1);
  EXPECT_EQ(X509_get_ext_by_NID(cert.get(), NID_authority_key_identifier, -1), -1);
  EXPECT_TRUE(is_self_identified(cert.get()));

  int bc = X509_get_ext_by_NID(cert.get(), NID_basic_constraints, -1);
  ASSERT_GE(bc, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert.get(), bc)), 1);
  EXPECT_EQ(X509_get_extension_flags(cert.get()) & EXFLAG_CA, 0u);
  EXPECT_EQ(X509_get_ext_count(cert.get()), 1);

  std::int64_t now = std::time(nullptr);
  constexpr std::int64_t kThirtyDays = 30 * 24 * 3600;
  EXPECT_NEAR(static_cast<double>(not_before_unix(cert.get())),
              static_cast<double>(now - kThirtyDays), 120);
  EXPECT_NEAR(static_cast<double>(not_after_unix(cert.get())),
              static_cast<double>(now + kThirtyDays), 120);

  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(EVP_PKEY_get_id(pub), EVP_PKEY_ED25519);
  EXPECT_EQ(X509_verify(cert.get(), pub), 1);  // self-signed

  auto parsed = meta_cert_key(cert.get());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, key);
}

TEST(MetaCert, EachCallUsesAFreshSigningKey) {
  auto key = test_key();
  X509Ptr a = make_meta_cert(key);
  X509Ptr b = make_meta_cert(key);
  EXPECT_NE(der_sha256_hex(a.get()), der_sha256_hex(b.get()));
}

// A certificate with the given CN and serial; the signature does not matter to the parser.
X509Ptr cert_with(const std::string& cn, long serial) {
  CertSpec spec;
  spec.common_name = cn;
  EvpPkeyPtr key = generate_p256_key();
  X509Ptr cert = issue_cert(spec, key.get());
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  return cert;
}

TEST(MetaCert, ParsingRules) {
  auto key = test_key();
  std::string hex = key.to_hex();
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

  EXPECT_EQ(meta_cert_key(cert_with("derpkey" + hex, 2).get()), key);
  EXPECT_EQ(meta_cert_key(cert_with("derpkey" + upper, 2).get()), key) << "upper case accepted";
  EXPECT_EQ(meta_cert_key(cert_with("derpkey" + hex, 255).get()), key) << "8 bits";
  EXPECT_FALSE(meta_cert_key(cert_with("derpkey" + hex, 256).get())) << "9 bits";
  EXPECT_FALSE(meta_cert_key(cert_with("derpkey" + hex, 0).get())) << "version 0";
  EXPECT_FALSE(meta_cert_key(cert_with("derpkey" + hex, -2).get()));
  EXPECT_FALSE(meta_cert_key(cert_with("derpkey" + hex.substr(1), 2).get())) << "63 digits";
  EXPECT_FALSE(meta_cert_key(cert_with("derpkey" + hex + "0", 2).get())) << "65 digits";
  EXPECT_FALSE(meta_cert_key(cert_with("derpkey" + hex.substr(2) + "zz", 2).get()));
  EXPECT_FALSE(meta_cert_key(cert_with("DERPKEY" + hex, 2).get())) << "prefix is case-sensitive";
  EXPECT_FALSE(meta_cert_key(cert_with("localhost", 2).get()));
}

}  // namespace
}  // namespace derp::tls
