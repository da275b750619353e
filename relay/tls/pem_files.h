// PEM certificate and key files: reading them, and writing them with the right permissions.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "relay/tls/openssl_ptr.h"

namespace derp::tls {

// All certificates of a PEM file, leaf first. Throws TlsError naming the path when the file is
// missing, unreadable, or holds no certificate.
std::vector<X509Ptr> read_cert_chain_file(const std::string& path);
// The first private key of a PEM file (PKCS#8, or traditional RSA/EC). Throws TlsError.
EvpPkeyPtr read_private_key_file(const std::string& path);
// The same from PEM text; `what` names its source in errors ("certificate file /x.crt").
std::vector<X509Ptr> read_cert_chain_pem(std::string_view pem, const std::string& what);
EvpPkeyPtr read_private_key_pem(std::string_view pem, const std::string& what);

std::string cert_to_pem(X509* cert);
std::string private_key_to_pem(EVP_PKEY* key);  // PKCS#8 "PRIVATE KEY"

}  // namespace derp::tls
