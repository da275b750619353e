// derpd's admin API flags. Apart from admin_wiring.h so that parsing the command line links none
// of the admin server (the flags fuzz target stays small and fast).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace derp::main {

inline constexpr const char* kDefaultAdminSocket = "/run/derpd/admin.sock";
inline constexpr const char* kDevAdminSocket = "./dev-node/admin.sock";

struct AdminOptions {
  std::string socket_path = kDefaultAdminSocket;  // "" or "off": no unix socket
  bool socket_path_given = false;                 // --admin-socket was on the command line
  std::string listen;                             // --admin-listen host:port
  std::string token_file;
  std::string tls_cert, tls_key, tls_client_ca;
};

// --admin-socket, --admin-listen, --admin-token-file, --admin-tls-cert, --admin-tls-key,
// --admin-tls-client-ca.
void add_admin_flags(CLI::App& app, AdminOptions& options);

}  // namespace derp::main
