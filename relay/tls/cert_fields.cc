#include "relay/tls/cert_fields.h"

#include <openssl/asn1.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <ctime>

#include "relay/protocol/key.h"
#include "relay/tls/openssl_ptr.h"

namespace derp::tls {
namespace {

std::int64_t asn1_time_unix(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

std::string asn1_string_text(const ASN1_STRING* s) {
  if (s == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  const unsigned char* p = ASN1_STRING_get0_data(ip);
  int len = ASN1_STRING_length(ip);
  int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
  if (family == 0 || inet_ntop(family, p, buf, sizeof(buf)) == nullptr) return "<bad IP>";
  return buf;
}

}  // namespace

namespace {

std::string name_text(X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

std::string subject_text(X509* cert) {
  return name_text(X509_get_subject_name(cert));
}

std::string issuer_text(X509* cert) {
  return name_text(X509_get_issuer_name(cert));
}

std::string common_name(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  return asn1_string_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
}

std::vector<std::string> subject_alt_names(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    switch (gn->type) {
      case GEN_DNS:
        out.push_back("DNS:" + asn1_string_text(gn->d.dNSName));
        break;
      case GEN_IPADD:
        out.push_back("IP:" + ip_text(gn->d.iPAddress));
        break;
      case GEN_URI:
        out.push_back("URI:" + asn1_string_text(gn->d.uniformResourceIdentifier));
        break;
      case GEN_EMAIL:
        out.push_back("email:" + asn1_string_text(gn->d.rfc822Name));
        break;
      default:
        break;
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::int64_t not_before_unix(X509* cert) {
  return asn1_time_unix(X509_get0_notBefore(cert));
}
std::int64_t not_after_unix(X509* cert) {
  return asn1_time_unix(X509_get0_notAfter(cert));
}

std::vector<std::uint8_t> der_bytes(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) return {};
  std::vector<std::uint8_t> out(static_cast<std::size_t>(len));
  unsigned char* p = out.data();
  i2d_X509(cert, &p);
  return out;
}

std::string der_sha256_hex(X509* cert) {
  auto der = der_bytes(cert);
  std::uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(der.data(), der.size(), digest);
  return protocol::to_hex(digest);
}

bool is_self_identified(X509* cert) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert);
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert);
  std::string a = asn1_string_text(ski);
  std::string b = asn1_string_text(aki);
  return a == b;
}

}  // namespace derp::tls
