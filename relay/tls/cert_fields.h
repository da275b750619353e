// Read-only views of an X.509 certificate's fields, as the admin API and the probes need them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <openssl/x509.h>

namespace derp::tls {

// RFC 2253 subject, e.g. "CN=derp.example.com,O=Example".
std::string subject_text(X509* cert);
std::string issuer_text(X509* cert);
// The subject CommonName, or "" without one.
std::string common_name(X509* cert);
// SANs as "DNS:name" / "IP:addr" / "URI:..." / "email:...", in certificate order.
std::vector<std::string> subject_alt_names(X509* cert);
// Validity bounds as Unix seconds.
std::int64_t not_before_unix(X509* cert);
std::int64_t not_after_unix(X509* cert);
// The DER encoding and lowercase hex SHA-256 of it (what CertName "sha256-raw:" pins).
std::vector<std::uint8_t> der_bytes(X509* cert);
std::string der_sha256_hex(X509* cert);
// derpprobe's "self-identified" test: SubjectKeyId equals AuthorityKeyId's key id (both absent
// qualifies). Such certificates are exempt from its expiry checks (protocol §10).
bool is_self_identified(X509* cert);

}  // namespace derp::tls
