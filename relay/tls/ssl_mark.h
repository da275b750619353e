// A mark one callback of a handshake leaves on the SSL for a later one (the ClientHello callback
// tells the SNI and ALPN callbacks which certificate it chose). Kept in the SSL's ex_data.
#pragma once

#include <openssl/ssl.h>

namespace derp::tls {

class SslMark {
 public:
  SslMark() : index_(SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr)) {}
  bool set(SSL* ssl) const { return SSL_set_ex_data(ssl, index_, marker()) == 1; }
  bool is_set(const SSL* ssl) const { return SSL_get_ex_data(ssl, index_) == marker(); }

 private:
  // Only the pointer's presence matters; one static byte serves every mark.
  static void* marker() {
    static char byte;
    return &byte;
  }
  int index_;
};

}  // namespace derp::tls
