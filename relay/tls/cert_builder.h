// Issues X.509 certificates: derper's self-signed IP certificate and throwaway test PKIs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "relay/tls/openssl_ptr.h"

namespace derp::tls {

struct CertSpec {
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::int64_t not_before_offset_seconds = 0;  // relative to now; negative backdates
  std::int64_t lifetime_seconds = 365LL * 24 * 60 * 60;
  bool is_ca = false;            // critical BasicConstraints CA:TRUE/CA:FALSE
  bool key_identifiers = false;  // add SubjectKeyId, and AuthorityKeyId when an issuer is given
  std::string key_usage;         // OpenSSL syntax, e.g. "critical,digitalSignature"; "" for none
  std::string ext_key_usage;     // e.g. "serverAuth"; "" for none
  // TLS-ALPN-01 (RFC 8737 §3): the SHA-256 of the key authorisation, put in the critical
  // id-pe-acmeIdentifier extension. Empty: no such extension.
  std::vector<std::uint8_t> acme_identifier;
};

// DNS and IP subjectAltNames, owned by the caller (GENERAL_NAMES_free); for certificates and
// CSRs. Throws TlsError on a name OpenSSL cannot encode.
GENERAL_NAMES* make_general_names(const std::vector<std::string>& dns_names,
                                  const std::vector<std::string>& ip_addresses);

// A fresh ECDSA P-256 key. Throws TlsError.
EvpPkeyPtr generate_p256_key();

// A certificate with a random 128-bit serial for `subject_key`, signed with SHA-256 by
// `issuer_key` as `issuer`, or self-signed when `issuer` is null. Throws TlsError.
X509Ptr issue_cert(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer = nullptr,
                   EVP_PKEY* issuer_key = nullptr);

}  // namespace derp::tls
