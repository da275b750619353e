// Where the admin API listens and how TCP callers prove who they are. Apart from
// admin_endpoint.h so that checking the flags links none of the gRPC server.
#pragma once

#include <string>

namespace derp::admin {

struct AdminEndpointConfig {
  std::string socket_path;                  // "" for no unix socket
  std::string tcp_listen;                   // "host:port" (port 0 picks one); "" for none
  std::string token;                        // bearer token for TCP callers ("" for none)
  std::string tls_cert_file, tls_key_file;  // serve TCP over TLS
  std::string tls_client_ca_file;           // and require client certificates signed by this CA
};

// Checks a TCP admin configuration before anything starts; throws std::runtime_error.
void validate_tcp_auth(const AdminEndpointConfig& config);

}  // namespace derp::admin
