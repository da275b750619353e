#include "relay/main/admin_wiring.h"

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>
#include <stdexcept>

#include "relay/acme/cert_manager.h"
#include "relay/admin/admin_endpoint.h"
#include "relay/admin/auth.h"
#include "relay/http/http_front.h"
#include "relay/main/host_port.h"
#include "relay/server/server.h"
#include "relay/tls/server_context.h"
#include "stun/stun_server.h"

namespace derp::main {

namespace {

// What the admin API shows of one certificate: the served one (nullopt: an ACME node still
// waiting for it) and, with ACME, the last renewal of `name` ("" : the hostname).
admin::CertSummary cert_summary(const std::optional<tls::CertInfo>& c, acme::CertManager* acme,
                                const std::string& name) {
  admin::CertSummary summary;
  if (c) {
    summary.path = c->path;
    summary.subject = c->subject;
    summary.issuer = c->issuer;
    summary.sans = c->sans;
    summary.not_before = c->not_before;
    summary.not_after = c->not_after;
    summary.sha256_hex = c->sha256_hex;
  } else {
    summary.present = false;
  }
  summary.certmode = acme ? acme->config().certmode : "manual";
  if (acme) {
    auto renewal = acme->status(name);
    summary.acme_directory = acme->config().directory_url;
    summary.last_renewal_attempt = renewal.last_attempt;
    summary.last_renewal_ok = renewal.last_ok;
    summary.last_renewal_result = renewal.last_result;
    summary.next_renewal_check = renewal.next_check;
  }
  return summary;
}

}  // namespace

std::unique_ptr<admin::AdminEndpoint> start_admin(const AdminOptions& options, bool dev,
                                                  server::Server& server,
                                                  server::DrainController& drain,
                                                  std::vector<http::HttpFront*> fronts,
                                                  stun::StunServer* stun, tls::CertStore* certs,
                                                  acme::CertManager* acme, admin::NodeFacts facts) {
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
    facts.cert = [certs, acme]() -> std::optional<admin::CertSummary> {
      return cert_summary(certs->cert_info(), acme, "");
    };
    if (certs->ip_certs()) {
      facts.ip_certs = [certs, acme] {
        std::vector<admin::CertSummary> out;
        for (const auto& [ip, info] : certs->ip_cert_infos()) {
          out.push_back(cert_summary(info, acme, ip));
        }
        return out;
      };
    }
  }
  if (acme) {
    facts.renew_cert = [acme](std::function<void(bool, const std::string&)> done) {
      acme->renew_now(std::move(done));
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
