// The running admin API of a node: a gRPC server on a unix socket (and, on request, TCP with a
// bearer token or mTLS) serving derpd.admin.v1.Admin, grpc.health.v1.Health (NOT_SERVING while
// draining) and server reflection. The drain controller belongs to the node; this only serves it.
#pragma once

#include <memory>
#include <string>

#include "relay/admin/endpoint_config.h"
#include "relay/admin/node_facts.h"
#include "relay/server/drain_controller.h"
#include "relay/server/server.h"

namespace grpc {
class Server;
}

namespace derp::admin {

class AdminService;

class AdminEndpoint {
 public:
  // Starts serving. Throws std::runtime_error with operator text: a TCP listener without a token
  // or mTLS, a socket path in use by a live process, a folder that cannot be created, …
  AdminEndpoint(AdminEndpointConfig config, server::Server& server, NodeFacts facts,
                server::DrainController& drain);
  ~AdminEndpoint();  // stops the gRPC server (open streams end with UNAVAILABLE)
  AdminEndpoint(const AdminEndpoint&) = delete;
  AdminEndpoint& operator=(const AdminEndpoint&) = delete;

  // "unix:/run/derpd/admin.sock", "127.0.0.1:50051": what derpctl --admin takes.
  const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  void set_health(bool serving);

  AdminEndpointConfig config_;
  server::DrainController& drain_;
  std::uint64_t drain_subscription_ = 0;
  std::unique_ptr<AdminService> service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::vector<std::string> addresses_;
};

}  // namespace derp::admin
