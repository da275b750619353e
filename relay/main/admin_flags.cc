#include "relay/main/admin_flags.h"

#include <CLI/CLI.hpp>

#include <stdexcept>

#include "relay/admin/auth.h"
#include "relay/admin/endpoint_config.h"

namespace derp::main {

void add_admin_flags(CLI::App& app, AdminOptions& o) {
  app.add_option_function<std::string>(
         "--admin-socket",
         [&o](const std::string& path) {
           o.socket_path = path;
           o.socket_path_given = true;
         },
         std::string("Unix socket of the gRPC admin API (mode 0660, folder created); \"off\" "
                     "disables it. Default ") +
             kDefaultAdminSocket + ", " + kDevAdminSocket + " with --dev")
      ->type_name("PATH");
  app.add_option("--admin-token-file", o.token_file,
                 "File whose first line is the bearer token TCP admin callers must send")
      ->type_name("FILE");
  app.add_option("--admin-tls-cert", o.tls_cert, "TLS certificate (PEM) of the TCP admin listener")
      ->type_name("FILE");
  app.add_option("--admin-tls-key", o.tls_key, "TLS private key (PEM) of the TCP admin listener")
      ->type_name("FILE");
  app.add_option("--admin-tls-client-ca", o.tls_client_ca,
                 "CA (PEM) that TCP admin clients' certificates must be signed by (mTLS)")
      ->type_name("FILE");
  // Defined last: CLI11 runs option callbacks in definition order, so the token and TLS flags are
  // known here, and a TCP listener without authentication is refused before anything starts.
  app.add_option_function<std::string>(
         "--admin-listen",
         [&o](const std::string& listen) {
           o.listen = listen;
           admin::AdminEndpointConfig c;
           c.tcp_listen = listen;
           c.tls_cert_file = o.tls_cert;
           c.tls_key_file = o.tls_key;
           c.tls_client_ca_file = o.tls_client_ca;
           try {
             if (!o.token_file.empty()) c.token = admin::read_token_file(o.token_file);
             admin::validate_tcp_auth(c);
           } catch (const std::runtime_error& e) {
             throw CLI::ValidationError(e.what());
           }
         },
         "Also serve the admin API on TCP host:port; needs --admin-token-file or mTLS "
         "(--admin-tls-cert, --admin-tls-key, --admin-tls-client-ca)")
      ->type_name("HOST:PORT");
}

}  // namespace derp::main
