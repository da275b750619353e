#include "relay/tls/openssl_ptr.h"

#include <openssl/err.h>

namespace derp::tls {

X509Ptr share_x509(X509* cert) {
  if (cert != nullptr) X509_up_ref(cert);
  return X509Ptr(cert);
}

std::string openssl_error(std::string_view what) {
  std::string out(what);
  const char* sep = ": ";
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    out += sep;
    out += buf;
    sep = "; ";
  }
  return out;
}

}  // namespace derp::tls
