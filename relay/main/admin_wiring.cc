#include "relay/main/admin_wiring.h"

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>
#include <stdexcept>

#include "relay/admin/admin_endpoint.h"
#include "relay/admin/auth.h"
#include "relay/http/http_front.h"
#include "relay/main/host_port.h"
#include "relay/server/server.h"
#include "relay/tls/server_context.h"
#include "stun/stun_server.h"

namespace derp::main {

std::unique_ptr<admin::AdminEndpoint> start_admin(const AdminOptions& options, bool dev,
                                                  server::Server& server,
                                                  server::DrainController& drain,
                                                  std::vector<http::HttpFront*> fronts,
                                                  stun::StunServer* stun, tls::CertStore* certs,
                                                  admin::NodeFacts facts) {
  std::erase(fronts, nullptr);
  admin::AdminEndpointConfig config;
  config.socket_path = options.socket_path;
  if (dev && !options.socket_path_given) config.socket_path = kDevAdminSocket;
  if (config.socket_path == "off") config.socket_path.clear();
  config.tcp_listen = options.listen;
  if (!options.token_file.empty()) config.token = admin::read_token_file(options.token_file);
  config.tls_cert_file = options.tls_cert;
  config.tls_key_file = options.tls_key;
  config.tls_client_ca_file = options.tls_client_ca;
  admin::validate_tcp_auth(config);
  if (config.socket_path.empty() && config.tcp_listen.empty()) {
    spdlog::info("admin API off (--admin-socket off and no --admin-listen)");
    return nullptr;
  }

  facts.version = DERPD_VERSION;
  for (std::size_t i = 0; i < fronts.size(); ++i) {
    facts.listeners.push_back(
        {i == 0 ? "derp" : "http", fronts[i]->describe() + (i == 0 ? "/derp" : "")});
  }
  if (stun) {
    facts.listeners.push_back(
        {"stun", "udp " + host_port(stun->config().host, stun->local_port())});
  }
  if (certs) {
    facts.cert = [certs]() -> std::optional<admin::CertSummary> {
      auto c = certs->cert_info();
      return admin::CertSummary{c.path, c.subject, c.sans, c.not_before, c.not_after, c.sha256_hex};
    };
  }

  std::unique_ptr<admin::AdminEndpoint> endpoint;
  try {
    endpoint = std::make_unique<admin::AdminEndpoint>(config, server, std::move(facts), drain);
  } catch (const std::runtime_error& e) {
    if (options.socket_path_given || dev || !options.listen.empty()) throw;
    spdlog::warn("admin API off: {}", e.what());
    return nullptr;
  }
  std::string where;
  for (const auto& a : endpoint->addresses()) where += (where.empty() ? "" : ", ") + a;
  spdlog::info("admin API on {}", where);
  std::cout << "derpd admin API on " << where << std::endl;
  return endpoint;
}

}  // namespace derp::main
