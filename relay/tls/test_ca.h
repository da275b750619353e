// Throwaway PKIs for tests: a CA that clients trust (ca.pem, e.g. via SSL_CERT_FILE) and a leaf
// signed by it, laid out the way CertStore reads a certdir.
#pragma once

#include <string>
#include <vector>

namespace derp::tls {

struct TestPki {
  std::string ca_cert;    // <dir>/ca.pem
  std::string ca_key;     // <dir>/ca.key
  std::string leaf_cert;  // <dir>/<stem>.crt: the leaf alone (the CA is the trust anchor)
  std::string leaf_key;   // <dir>/<stem>.key
};

// Creates `dir` if needed and writes a fresh ECDSA P-256 CA and a leaf valid for every entry of
// `names` (IP literals become IP SANs, the rest DNS SANs), so CertStore{certdir=dir,
// hostname=names[0]} finds it; <stem> is cert_file_stem(names[0]). `leaf_lifetime_seconds` may
// be made short to test expiry checks. Throws TlsError.
TestPki write_test_pki(const std::string& dir, const std::vector<std::string>& names,
                       long long leaf_lifetime_seconds = 30LL * 24 * 60 * 60);

}  // namespace derp::tls
