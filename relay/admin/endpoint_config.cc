#include "relay/admin/endpoint_config.h"

#include <stdexcept>

namespace derp::admin {

void validate_tcp_auth(const AdminEndpointConfig& c) {
  if (c.tcp_listen.empty()) return;
  if (!c.tls_client_ca_file.empty() && (c.tls_cert_file.empty() || c.tls_key_file.empty())) {
    throw std::runtime_error(
        "--admin-tls-client-ca needs --admin-tls-cert and --admin-tls-key as well");
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    throw std::runtime_error("--admin-tls-cert and --admin-tls-key go together");
  }
  if (c.token.empty() && c.tls_client_ca_file.empty()) {
    throw std::runtime_error(
        "--admin-listen " + c.tcp_listen +
        ": refusing to open the admin API on TCP without authentication; pass "
        "--admin-token-file FILE (bearer token) or --admin-tls-cert/--admin-tls-key/"
        "--admin-tls-client-ca (mTLS), or use the unix socket (--admin-socket)");
  }
}

}  // namespace derp::admin
