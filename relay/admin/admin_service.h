// The derpd.admin.v1.Admin service: a thin adapter that turns each RPC into calls on the relay
// core (per-worker snapshots, never a global lock) and the drain controller, and core outcomes
// into real grpc::Status codes. It holds no mutex of its own: calls run concurrently.
#pragma once

#include <memory>

#include "derpd/admin/v1/admin.grpc.pb.h"
#include "relay/admin/auth.h"
#include "relay/admin/node_facts.h"
#include "relay/server/drain_controller.h"
#include "relay/server/server.h"

namespace derp::admin {

class AdminService final : public ::derpd::admin::v1::Admin::Service {
 public:
  AdminService(server::Server& server, server::DrainController& drain, NodeFacts facts,
               AuthPolicy auth);
  // Ends open WatchClients and Drain streams (for shutdown).
  void shut_down();

  using Ctx = grpc::ServerContext;
  grpc::Status GetNodeStatus(Ctx*, const ::derpd::admin::v1::GetNodeStatusRequest*,
                             ::derpd::admin::v1::NodeStatus*) override;
  grpc::Status ListClients(Ctx*, const ::derpd::admin::v1::ListClientsRequest*,
                           ::derpd::admin::v1::ListClientsResponse*) override;
  grpc::Status GetClient(Ctx*, const ::derpd::admin::v1::GetClientRequest*,
                         ::derpd::admin::v1::GetClientResponse*) override;
  grpc::Status CloseClient(Ctx*, const ::derpd::admin::v1::CloseClientRequest*,
                           ::derpd::admin::v1::CloseClientResponse*) override;
  grpc::Status WatchClients(Ctx*, const ::derpd::admin::v1::WatchClientsRequest*,
                            grpc::ServerWriter<::derpd::admin::v1::ClientEvent>*) override;
  grpc::Status GetMesh(Ctx*, const ::derpd::admin::v1::GetMeshRequest*,
                       ::derpd::admin::v1::GetMeshResponse*) override;
  grpc::Status Drain(Ctx*, const ::derpd::admin::v1::DrainRequest*,
                     grpc::ServerWriter<::derpd::admin::v1::DrainProgress>*) override;
  grpc::Status Undrain(Ctx*, const ::derpd::admin::v1::UndrainRequest*,
                       ::derpd::admin::v1::UndrainResponse*) override;
  grpc::Status SetConnectionLimits(Ctx*, const ::derpd::admin::v1::SetConnectionLimitsRequest*,
                                   ::derpd::admin::v1::ConnectionLimits*) override;
  grpc::Status AddMeshPeer(Ctx*, const ::derpd::admin::v1::MeshPeerRequest*,
                           ::derpd::admin::v1::MeshPeersResponse*) override;
  grpc::Status RemoveMeshPeer(Ctx*, const ::derpd::admin::v1::MeshPeerRequest*,
                              ::derpd::admin::v1::MeshPeersResponse*) override;
  grpc::Status ListAdmitRules(Ctx*, const ::derpd::admin::v1::ListAdmitRulesRequest*,
                              ::derpd::admin::v1::AdmitRules*) override;
  grpc::Status ChangeAdmitRule(Ctx*, const ::derpd::admin::v1::AdmitRuleChange*,
                               ::derpd::admin::v1::AdmitRules*) override;
  grpc::Status RecentRefusals(Ctx*, const ::derpd::admin::v1::RecentRefusalsRequest*,
                              ::derpd::admin::v1::RecentRefusalsResponse*) override;
  grpc::Status SetClientRateLimit(Ctx*, const ::derpd::admin::v1::ClientRateLimitChange*,
                                  ::derpd::admin::v1::ClientRateLimits*) override;
  grpc::Status RenewCertificate(Ctx*, const ::derpd::admin::v1::RenewCertificateRequest*,
                                ::derpd::admin::v1::RenewCertificateResponse*) override;
  grpc::Status ListClientRateLimits(Ctx*, const ::derpd::admin::v1::ListClientRateLimitsRequest*,
                                    ::derpd::admin::v1::ClientRateLimits*) override;

 private:
  void rate_limits(::derpd::admin::v1::ClientRateLimits& out);
  grpc::Status change_mesh(Ctx* ctx, const std::string& peer, bool add,
                           ::derpd::admin::v1::MeshPeersResponse* out);

  server::Server& server_;
  server::DrainController& drain_;
  NodeFacts facts_;
  AuthPolicy auth_;
  std::shared_ptr<std::atomic<bool>> shutting_down_;
};

}  // namespace derp::admin
