#include "relay/tls/acme_crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <memory>

#include "relay/tls/cert_builder.h"
#include "relay/tls/tls_error.h"

namespace derp::tls {
namespace {

using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpenSslDeleter<ECDSA_SIG_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX_free>>;

void check(int ok, std::string_view step) {
  if (ok != 1) throw TlsError(openssl_error("acme crypto: " + std::string(step)));
}

// 0x04 ‖ x ‖ y, the uncompressed encoding OpenSSL's parameters use.
std::array<std::uint8_t, 65> uncompressed(const P256Point& p) {
  std::array<std::uint8_t, 65> out{};
  out[0] = 0x04;
  std::memcpy(out.data() + 1, p.x.data(), 32);
  std::memcpy(out.data() + 33, p.y.data(), 32);
  return out;
}

}  // namespace

P256Point p256_public_point(EVP_PKEY* key) {
  char group[32] = {};
  std::size_t group_len = 0;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &group_len) != 1 ||
      std::string_view(group, group_len) != "prime256v1") {
    throw TlsError("acme crypto: the account key is not an ECDSA P-256 key");
  }
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  const bool read = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
                    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1;
  BignumPtr owned_x(x), owned_y(y);
  if (!read) throw TlsError(openssl_error("acme crypto: read the public point"));
  P256Point p;
  check(BN_bn2binpad(x, p.x.data(), 32) == 32 ? 1 : 0, "encode x");
  check(BN_bn2binpad(y, p.y.data(), 32) == 32 ? 1 : 0, "encode y");
  return p;
}

namespace {

// A provider-native key from OpenSSL parameters (the getters above need one, not a legacy
// EC_KEY wrapper).
EvpPkeyPtr key_from_params(OSSL_PARAM_BLD* bld, int selection) {
  std::unique_ptr<OSSL_PARAM, OpenSslDeleter<OSSL_PARAM_free>> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX_free>> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  check(params && ctx ? 1 : 0, "key context");
  check(EVP_PKEY_fromdata_init(ctx.get()), "key from data");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) {
    throw TlsError(openssl_error("acme crypto: not a P-256 key"));
  }
  return EvpPkeyPtr(raw);
}

using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OpenSslDeleter<OSSL_PARAM_BLD_free>>;

// `public_point` must outlive the builder's to_param: OSSL_PARAM_BLD keeps a pointer, not a copy.
ParamBldPtr p256_params(const std::array<std::uint8_t, 65>& public_point) {
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  check(bld ? 1 : 0, "parameters");
  check(OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
        "group parameter");
  check(OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, public_point.data(),
                                         public_point.size()),
        "point parameter");
  return bld;
}

}  // namespace

EvpPkeyPtr p256_key_from_private(const Bytes32& d) {
  // The public point is d·G; OpenSSL wants both for a key pair.
  std::unique_ptr<EC_GROUP, OpenSslDeleter<EC_GROUP_free>> group(
      EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  std::unique_ptr<BIGNUM, OpenSslDeleter<BN_clear_free>> scalar(
      BN_bin2bn(d.data(), static_cast<int>(d.size()), nullptr));
  check(group && scalar ? 1 : 0, "P-256 group");
  std::unique_ptr<EC_POINT, OpenSslDeleter<EC_POINT_free>> pub(EC_POINT_new(group.get()));
  check(pub ? 1 : 0, "allocate a point");
  check(EC_POINT_mul(group.get(), pub.get(), scalar.get(), nullptr, nullptr, nullptr),
        "compute the point");
  std::array<std::uint8_t, 65> encoded{};
  check(EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, encoded.data(),
                           encoded.size(), nullptr) == encoded.size()
            ? 1
            : 0,
        "encode the point");
  auto bld = p256_params(encoded);
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar.get()),
        "private parameter");
  return key_from_params(bld.get(), EVP_PKEY_KEYPAIR);
}

EvpPkeyPtr p256_public_key(const P256Point& point) {
  const auto encoded = uncompressed(point);  // the builder keeps a pointer to it until built
  auto bld = p256_params(encoded);
  EvpPkeyPtr key = key_from_params(bld.get(), EVP_PKEY_PUBLIC_KEY);
  std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX_free>> check_ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check_ctx || EVP_PKEY_public_check(check_ctx.get()) != 1) {
    ERR_clear_error();  // the reason is in the message; leave no stale errors for the next call
    throw TlsError("acme crypto: the point is not on the P-256 curve");
  }
  return key;
}

std::array<std::uint8_t, 64> es256_sign(EVP_PKEY* key, std::string_view signing_input) {
  MdCtxPtr md(EVP_MD_CTX_new());
  check(md ? 1 : 0, "signing context");
  check(EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key), "sign init");
  std::size_t der_len = 0;
  const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
  check(EVP_DigestSign(md.get(), nullptr, &der_len, input, signing_input.size()), "sign size");
  std::vector<unsigned char> der(der_len);
  check(EVP_DigestSign(md.get(), der.data(), &der_len, input, signing_input.size()), "sign");
  const unsigned char* p = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  check(sig ? 1 : 0, "decode the signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::array<std::uint8_t, 64> out{};
  check(BN_bn2binpad(r, out.data(), 32) == 32 ? 1 : 0, "encode r");
  check(BN_bn2binpad(s, out.data() + 32, 32) == 32 ? 1 : 0, "encode s");
  return out;
}

bool es256_verify(EVP_PKEY* public_key, std::string_view signing_input,
                  std::span<const std::uint8_t> signature) {
  if (signature.size() != 64) return false;
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(signature.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(signature.data() + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) return false;
  MdCtxPtr md(EVP_MD_CTX_new());
  const bool valid =
      md && EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, public_key) == 1 &&
      EVP_DigestVerify(md.get(), der, static_cast<std::size_t>(der_len),
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) == 1;
  OPENSSL_free(der);
  if (!valid) ERR_clear_error();  // a bad signature is an answer, not an error to report later
  return valid;
}

Bytes32 sha256(std::string_view data) {
  Bytes32 out{};
  check(EVP_Digest(data.data(), data.size(), out.data(), nullptr, EVP_sha256(), nullptr),
        "SHA-256");
  return out;
}

Bytes32 hmac_sha256(std::span<const std::uint8_t> key, std::string_view data) {
  Bytes32 out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &len) == nullptr ||
      len != out.size()) {
    throw TlsError(openssl_error("acme crypto: HMAC-SHA256"));
  }
  return out;
}

std::vector<std::uint8_t> make_csr_der(EVP_PKEY* key, const std::vector<std::string>& names) {
  if (names.empty()) throw TlsError("acme crypto: a CSR needs at least one name");
  std::unique_ptr<X509_REQ, OpenSslDeleter<X509_REQ_free>> req(X509_REQ_new());
  check(req ? 1 : 0, "allocate a CSR");
  check(X509_REQ_set_version(req.get(), 0), "CSR version");
  std::vector<std::string> dns, ips;
  for (const auto& n : names) {
    std::unique_ptr<ASN1_OCTET_STRING, OpenSslDeleter<ASN1_OCTET_STRING_free>> ip(
        a2i_IPADDRESS(n.c_str()));
    (ip ? ips : dns).push_back(n);
  }
  GENERAL_NAMES* sans = make_general_names(dns, ips);
  std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>> ext(
      X509V3_EXT_i2d(NID_subject_alt_name, 0, sans));
  GENERAL_NAMES_free(sans);
  check(ext ? 1 : 0, "subjectAltName");
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, ext.get());
  const int added = X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_free(exts);
  check(added, "add the extensions");
  check(X509_REQ_set_pubkey(req.get(), key), "set the public key");
  check(X509_REQ_sign(req.get(), key, EVP_sha256()) > 0 ? 1 : 0, "sign the CSR");
  unsigned char* der = nullptr;
  const int len = i2d_X509_REQ(req.get(), &der);
  check(len > 0 ? 1 : 0, "encode the CSR");
  std::vector<std::uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

}  // namespace derp::tls
