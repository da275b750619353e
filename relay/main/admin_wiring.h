// derpd's admin API flags and the one call that starts the admin endpoint of a node over the
// node's drain controller. Light on purpose: options.h includes it, and nothing here pulls in
// gRPC.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "relay/admin/node_facts.h"
#include "relay/main/admin_flags.h"

namespace derp::server {
class Server;
class DrainController;
}  // namespace derp::server
namespace derp::http {
class HttpFront;
}
namespace derp::stun {
class StunServer;
}
namespace derp::tls {
class CertStore;
}
namespace derp::admin {
class AdminEndpoint;
}
namespace derp::acme {
class CertManager;
}

namespace derp::main {

// Starts the admin API once the fronts run. `fronts` may hold nulls (skipped); the first is the
// main listener. Throws std::runtime_error with operator text when an explicitly configured
// listener cannot start (TCP without a token or mTLS, a socket in use, …). When only the default
// socket is unusable (not root, another derpd holds it) it logs a warning and returns null: the
// relay still runs. A dev node (dev = true) defaults to ./dev-node/admin.sock.
std::unique_ptr<admin::AdminEndpoint> start_admin(const AdminOptions& options, bool dev,
                                                  server::Server& server,
                                                  server::DrainController& drain,
                                                  std::vector<http::HttpFront*> fronts,
                                                  stun::StunServer* stun, tls::CertStore* certs,
                                                  acme::CertManager* acme, admin::NodeFacts facts);

}  // namespace derp::main
