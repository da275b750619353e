#include "relay/main/node.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>

#include "mesh/mesh_link.h"
#include "mesh/mesh_peers.h"
#include "relay/acme/cert_manager.h"
#include "relay/admin/admin_endpoint.h"
#include "relay/admission/admission.h"
#include "relay/http/http_front.h"
#include "relay/http/metrics_listener.h"
#include "relay/limits/connection_limit_metrics.h"
#include "relay/limits/connection_limits.h"
#include "relay/logging/event.h"
#include "relay/main/admin_wiring.h"
#include "relay/main/admit_control.h"
#include "relay/main/bootstrap_dns.h"
#include "relay/main/descriptor_limit.h"
#include "relay/main/host_port.h"
#include "relay/main/key_file.h"
#include "relay/main/mesh_control.h"
#include "relay/main/mesh_key_file.h"
#include "relay/main/node_metrics.h"
#include "relay/main/rate_control.h"
#include "relay/main/service_reporting.h"
#include "relay/server/admin_queries.h"
#include "relay/server/drain_controller.h"
#include "relay/server/metrics_export.h"
#include "relay/server/server.h"
#include "relay/systemd/socket_activation.h"
#include "relay/tls/allocator_tuning.h"
#include "relay/tls/server_context.h"
#include "stun/stun_server.h"

namespace derp::main {
namespace {

namespace asio = boost::asio;

std::string default_certdir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/tailscale/derper-certs";
  }
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.cache/tailscale/derper-certs";
}

protocol::NodePrivate resolve_server_key(const Options& o) {
  if (o.dev) return protocol::NodePrivate::generate();
  std::string path = o.key_file;
  if (path.empty()) {
    if (::geteuid() != 0) {
      throw std::runtime_error(
          "no key file: pass -c /path/to/derper.key (it is created when missing); only root "
          "defaults to /var/lib/derper/derper.key");
    }
    path = "/var/lib/derper/derper.key";
  }
  return load_or_create_key_file(path);
}

std::optional<protocol::KeyBytes> resolve_mesh_key(const Options& o) {
  if (!o.mesh_psk_file.empty()) return read_mesh_key_file(o.mesh_psk_file);
  if (const char* env = std::getenv("TAILSCALE_DERPER_MESH_KEY"); env && *env) {
    return parse_mesh_key(env, "from $TAILSCALE_DERPER_MESH_KEY");
  }
  return std::nullopt;
}

std::size_t queue_depth_from_env() {
  if (const char* env = std::getenv("TS_DEBUG_DERP_PER_CLIENT_SEND_QUEUE_DEPTH"); env && *env) {
    int v = std::atoi(env);
    if (v > 0) return static_cast<std::size_t>(v);
  }
  return 32;
}

template <class Rep, class Period>
std::chrono::milliseconds ms(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

std::shared_ptr<limits::ConnectionLimits> make_connection_limits(const Options& o) {
  limits::ConnectionLimitSettings settings;
  settings.max_connections = o.max_connections;
  settings.max_per_ip = o.max_connections_per_ip;
  settings.accept_rate = o.accept_connection_limit;
  settings.accept_burst = static_cast<std::uint64_t>(o.accept_connection_burst);
  std::vector<transport::IpPrefix> exempt;
  try {
    exempt = transport::parse_prefix_list(o.connection_limit_exempt);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("--connection-limit-exempt: ") + e.what());
  }
  const std::uint64_t descriptors = raise_descriptor_limit();
  auto limits =
      limits::ConnectionLimits::create(settings, std::move(exempt), current_descriptor_limit);
  if (descriptors > 0) {
    spdlog::info("open-file limit {}: {} kept free for the admin API, probes and mesh links",
                 descriptors, limits::ConnectionLimits::reserve_for(descriptors));
  }
  return limits;
}

}  // namespace

int run_node(const Options& options) {
  // Signals are caught from the start, so a SIGTERM that arrives while the node is starting up
  // still shuts it down cleanly.
  asio::io_context control;
  asio::signal_set signals(control, SIGINT, SIGTERM, SIGHUP);
  Options o = options;
  if (o.dev) {
    o.addr = "127.0.0.1:3340";
    o.certmode = "manual-disabled";
  }
  ListenAddress listen = parse_listen_address(o.addr);
  const bool tls = !o.dev && (listen.port == 443 || o.certmode == "manual" || o.force_tls);
  const bool acme_mode = tls && (o.certmode == "letsencrypt" || o.certmode == "gcp");
  if (tls && !acme_mode && o.certmode != "manual") {
    throw std::runtime_error("--certmode " + o.certmode +
                             " is not a certificate mode: use letsencrypt (the default), gcp or "
                             "manual");
  }
  if (acme_mode && tls::parse_tls_hostname(o.hostname).is_ip && !o.acme_ip_certs) {
    throw std::runtime_error(
        "--hostname " + o.hostname + " is an IP address: --certmode " + o.certmode +
        " certifies an IP only with --acme-ip-certs (the CA must issue for IP addresses); "
        "or use --certmode manual, which writes a self-signed certificate");
  }
  if (o.acme_ip_certs && o.certmode != "letsencrypt") {
    throw std::runtime_error("--acme-ip-certs needs --certmode letsencrypt");
  }

  // Sockets from derpd.socket (systemd socket activation), matched to the listeners by port, so
  // that a restart never refuses a connect.
  using systemd::SocketKind;
  auto inherited = systemd::InheritedSockets::take_from_environment();
  const bool port80_wanted = tls && o.http_port > 0;
  const auto http_port = static_cast<std::uint16_t>(o.http_port);
  const auto stun_port = static_cast<std::uint16_t>(o.stun_port);
  const int main_fd = inherited.take(SocketKind::kTcpListener, listen.host, listen.port,
                                     "DERP " + host_port(listen.host, listen.port));
  const int port80_fd = port80_wanted
                            ? inherited.take(SocketKind::kTcpListener, listen.host, http_port,
                                             "plain HTTP " + host_port(listen.host, http_port))
                            : -1;
  const int stun_fd = o.stun ? inherited.take(SocketKind::kUdp, listen.host, stun_port,
                                              "STUN " + host_port(listen.host, stun_port))
                             : -1;
  inherited.check_all_taken(
      "DERP tcp " + host_port(listen.host, listen.port) +
      (port80_wanted ? ", plain HTTP tcp " + host_port(listen.host, http_port) : std::string()) +
      (o.stun ? ", STUN udp " + host_port(listen.host, stun_port) : std::string(", STUN off")));

  // Who may use the relay. Declared before the server, so it outlives every session that might
  // still be waiting for its answer; stopped before the server stops (below).
  std::shared_ptr<admission::Admission> admission;
  if (o.verify_clients || !o.verify_client_url.empty() || !o.admit_file.empty()) {
    admission::AdmissionConfig a;
    a.verify_clients = o.verify_clients;
    a.tailscaled_socket = o.tailscaled_socket;
    a.verify_url = o.verify_client_url;
    a.fail_open = o.verify_client_url_fail_open;
    a.cache_ttl = ms(o.verify_cache_ttl);
    admission = std::make_shared<admission::Admission>(a);
    if (o.verify_clients || !o.verify_client_url.empty())
      spdlog::info("admission: {}{}{}",
                   o.verify_clients ? "tailscaled at " + o.tailscaled_socket : "",
                   o.verify_clients && !o.verify_client_url.empty() ? ", then " : "",
                   o.verify_client_url.empty()
                       ? std::string()
                       : "controller " + o.verify_client_url +
                             (o.verify_client_url_fail_open ? " (fail-open)" : " (fail-closed)"));
  }

  server::ServerConfig config;
  if (admission) {
    config.admit = [admission](const protocol::NodePublic& key,
                               const std::optional<boost::asio::ip::address>& source,
                               server::ServerConfig::AdmissionDecided decided) {
      admission->check(key, source, std::move(decided));
    };
  }
  config.private_key = resolve_server_key(o);
  config.mesh_key = resolve_mesh_key(o);
  config.queue_depth = queue_depth_from_env();
  config.write_timeout = ms(o.tcp_write_timeout);
  config.workers = o.workers;
  config.pack_workers = o.worker_packing;
  config.packing.grow_busy = o.worker_packing_spread_at / 100;
  server::Server server(config);
  // Whichever way this function ends, the admission thread stops before the workers do: its
  // answers are posted to them.
  struct StopFirst {
    std::shared_ptr<admission::Admission> admission;
    ~StopFirst() {
      if (admission) admission->stop();
    }
  } stop_admission_first{admission};
  std::unique_ptr<AdmitControl> admit_control;
  if (!o.admit_file.empty()) {
    admit_control = std::make_unique<AdmitControl>(server, admission, o.admit_file);
  }

  std::unique_ptr<RateControl> rate_control;
  if (!o.rate_config.empty()) rate_control = std::make_unique<RateControl>(server, o.rate_config);

  auto connection_limits = make_connection_limits(o);
  mesh::MeshLinkOptions link_options;
  if (config.mesh_key) link_options.mesh_key = *config.mesh_key;
  link_options.tcp_keepalive_idle =
      std::chrono::duration_cast<std::chrono::seconds>(o.tcp_keepalive_time);
  link_options.tcp_user_timeout = ms(o.tcp_user_timeout);
  link_options.on_sibling_address = [connection_limits](const asio::ip::address& address) {
    connection_limits->add_sibling_address(address);
  };
  MeshControl mesh_control(server, config.mesh_key.has_value(), link_options, o.hostname,
                           o.mesh_with, o.mesh_with_file);
  server.start();

  // Declared before the certificates that look answers up in it, and the manager after them: the
  // manager stops first.
  acme::ChallengeBook acme_challenges;
  std::unique_ptr<tls::CertStore> certs;
  std::unique_ptr<acme::CertManager> cert_manager;
  if (tls) {
    tls::ServerTlsConfig tls_config;
    tls_config.certmode = acme_mode ? o.certmode : "manual";
    if (acme_mode) tls_config.acme_challenges = acme_challenges.tls_alpn01_lookup();
    tls_config.acme_ip_certs = acme_mode && o.acme_ip_certs;
    tls_config.certdir = o.certdir.empty() ? default_certdir() : o.certdir;
    std::error_code dir_error;
    std::filesystem::create_directories(tls_config.certdir, dir_error);
    if (dir_error) {
      throw std::runtime_error("--certdir " + tls_config.certdir + ": " + dir_error.message());
    }
    tls_config.hostname = o.hostname;
    certs = std::make_unique<tls::CertStore>(tls_config, server.public_key());
    if (!certs->generated_node_json().empty()) {
      spdlog::info("generated a self-signed certificate for {}; DERP map node: {}", o.hostname,
                   certs->generated_node_json());
    }
    if (acme_mode) {
      acme::CertManagerConfig acme_config;
      acme_config.certmode = o.certmode;
      acme_config.directory_url = o.acme_directory_url;
      acme_config.email = o.acme_email;
      acme_config.eab_kid = o.acme_eab_kid;
      acme_config.eab_key = o.acme_eab_key;
      acme_config.ca_file = o.acme_ca_file;
      acme_config.certdir = tls_config.certdir;
      acme_config.challenge = o.acme_challenge;
      acme_config.http01_listener = o.http_port > 0;
      acme_config.name = certs->hostname().host;
      cert_manager = std::make_unique<acme::CertManager>(acme_config, *certs, acme_challenges);
      if (auto* ip_certs = certs->ip_certs()) {
        ip_certs->set_wanted(
            [manager = cert_manager.get()](const std::string& ip) { manager->want_ip(ip); });
      }
    }
  }

  std::unique_ptr<stun::StunServer> stun_server;
  std::unique_ptr<BootstrapDns> bootstrap_dns;
  BootstrapDns::Config bootstrap_names;
  bootstrap_names.published = split_names(o.bootstrap_dns_names);
  bootstrap_names.unpublished = split_unpublished_names(o.unpublished_bootstrap_dns_names);
  if (!bootstrap_names.published.empty() || !bootstrap_names.unpublished.empty()) {
    spdlog::info(
        "bootstrap DNS: serving the addresses of {} name(s) at /bootstrap-dns ({} more "
        "only to ?q=)",
        bootstrap_names.published.size(), bootstrap_names.unpublished.size());
    bootstrap_dns = std::make_unique<BootstrapDns>(std::move(bootstrap_names));
  }
  // The drain controller comes later (its hooks need the listeners); its state reaches the
  // metrics through this, which every state change updates.
  auto drain_state =
      std::make_shared<std::atomic<server::DrainState>>(server::DrainState::kServing);
  auto collect_node_metrics = [&mesh_control, &certs, &cert_manager, drain_state] {
    NodeMetrics m;
    m.version = DERPD_VERSION;
    m.drain = drain_state->load();
    for (const auto& link : mesh_control.links()) {
      auto h = link->health();
      m.mesh.push_back(
          {h.peer, h.state, h.reconnects, h.peer_present_count, h.packets_out, h.bytes_out});
    }
    auto add_cert = [&m](const tls::CertInfo& c) {
      std::string name = c.subject;
      if (!c.sans.empty()) name = c.sans.front().substr(c.sans.front().find(':') + 1);
      m.certs.push_back({name, c.not_after});
    };
    if (auto c = certs ? certs->cert_info() : std::nullopt) add_cert(*c);
    if (certs && certs->ip_certs()) {
      for (const auto& [ip, c] : certs->ip_cert_infos()) add_cert(c);
    }
    if (cert_manager) {
      auto renewal = cert_manager->status();
      m.acme = AcmeMetrics{renewal.renewals_ok, renewal.renewals_failed};
    }
    return node_metrics_text(m) + process_metrics_text();
  };
  auto collect_vars = [&server, &stun_server, connection_limits] {
    auto j = server::expvar_json(server.stats(), server.started_at());
    if (stun_server) j["stun"] = stun_server->expvar();
    limits::add_expvar(j, connection_limits->stats());
    return j.dump(1, '\t');
  };
  auto collect_varz = [&server, &stun_server, &bootstrap_dns, connection_limits, admission,
                       collect_node_metrics] {
    std::string out;
    server::append_prometheus(out, server.stats(), server.started_at());
    limits::append_prometheus(out, connection_limits->stats());
    if (stun_server) out += stun_server->prometheus_text();
    if (admission) {
      auto counts = admission->counts();
      counts.decisions[static_cast<std::size_t>(admission::DecisionSource::kMesh)]
                      [static_cast<std::size_t>(admission::DecisionResult::kAdmitted)] =
          server.stats().mesh_peers_admitted;
      out += admission::prometheus_text(counts);
    }
    out += collect_node_metrics();
    if (bootstrap_dns) out += bootstrap_dns->metrics_text();
    return out;
  };
  http::DebugPages pages{collect_vars, collect_varz, {}, {}};
  if (cert_manager) {
    pages.acme_http01 = [&acme_challenges](std::string_view token) {
      return acme_challenges.http01(token);
    };
  }
  if (bootstrap_dns) {
    pages.bootstrap_dns = [b = bootstrap_dns.get()](std::string_view q,
                                                    const std::array<std::uint8_t, 16>& ip) {
      return b->body(q, ip);
    };
  }

  http::ListenerConfig main_listener;
  main_listener.host = listen.host;
  main_listener.port = listen.port;
  main_listener.front.derp_enabled = o.derp;
  main_listener.front.tls = tls;
  main_listener.front.home = o.home;
  main_listener.tcp.keepalive_idle =
      std::chrono::duration_cast<std::chrono::seconds>(o.tcp_keepalive_time);
  main_listener.tcp.user_timeout = ms(o.tcp_user_timeout);
  main_listener.limits = connection_limits;
  main_listener.inherited_fd = main_fd;
  if (certs) main_listener.tls_context = [store = certs.get()] { return store->current(); };
  // Bound before any listener serves: a bad address stops the start while nothing runs yet.
  std::unique_ptr<http::MetricsListener> metrics_listener;
  if (!o.metrics_listen.empty()) {
    auto where = parse_listen_address(o.metrics_listen);
    http::MetricsPages metrics_pages;
    metrics_pages.metrics = collect_varz;
    metrics_listener =
        std::make_unique<http::MetricsListener>(control, where.host, where.port, metrics_pages);
    spdlog::info("Prometheus metrics on {}", metrics_listener->describe());
  }
  http::HttpFront front(server, main_listener, pages);
  front.start();

  std::unique_ptr<http::HttpFront> port80;
  if (tls && o.http_port > 0) {
    http::ListenerConfig plain = main_listener;
    plain.port = static_cast<std::uint16_t>(o.http_port);
    plain.front.port80 = true;
    plain.front.tls = false;
    plain.tls_context = nullptr;
    plain.inherited_fd = port80_fd;
    port80 = std::make_unique<http::HttpFront>(server, plain, pages);
    port80->start();
  }
  // The listeners run: the CA's validation can reach them.
  if (cert_manager) cert_manager->start();

  if (o.stun) {
    stun::StunConfig stun_config;
    stun_config.host = listen.host;
    stun_config.port = stun_port;
    stun_config.answer_generic = o.stun_answer_generic;
    stun_config.inherited_fd = stun_fd;
    stun_server = std::make_unique<stun::StunServer>(server.worker_contexts(), stun_config);
    stun_server->start();
  }

  mesh_control.start();

  admin::MeshHealthProvider mesh_health = [&mesh_control, &server] {
    std::vector<admin::MeshLinkHealthData> out;
    auto links = mesh_control.links();
    if (links.empty()) return out;
    // Packets a sibling forwarded to us arrive on its own link into this node: the session whose
    // key is the sibling's server key.
    // Like every other admin answer, bounded: a wedged worker must not wedge derpctl mesh.
    auto sessions = server::collect_sessions(server, std::chrono::seconds(2))
                        .value_or(std::vector<server::SessionSnapshot>{});
    for (const auto& link : links) {
      auto h = link->health();
      admin::MeshLinkHealthData d;
      d.peer = h.peer;
      d.state = h.state;
      d.since = h.since;
      d.reconnects = h.reconnects;
      d.last_error = h.last_error;
      d.peer_present_count = h.peer_present_count;
      d.packets_out = h.packets_out;
      d.bytes_out = h.bytes_out;
      for (const auto& s : sessions) {
        if (s.can_mesh && s.key == h.peer_key) {
          d.packets_in += s.packets_in;
          d.bytes_in += s.bytes_in;
        }
      }
      out.push_back(std::move(d));
    }
    return out;
  };
  // The drain belongs to the node: the admin API starts and undoes it, SIGTERM runs it before
  // exiting. Its steps run on `control` (this thread).
  //
  // A SIGTERM drain with the listening socket from the service manager is a restart (or an
  // upgrade): the socket stays open in systemd, so connects wait in its queue for the next derpd
  // instead of being refused, and STUN keeps answering until the exit. A drain through the admin
  // API always refuses, so that clients move to a sibling.
  bool restarting_in_place = false;
  server::DrainHooks hooks;
  hooks.accept_connections = [&front, &port80, &restarting_in_place](bool accept) -> std::string {
    // Port 80 (beside TLS) carries no DERP for real clients; it keeps answering captive-portal
    // checks and redirects, and refuses upgrades while the main listener is closed.
    front.set_refuse_new_derp(!accept);
    if (port80) port80->set_refuse_new_derp(!accept);
    if (!accept) {
      if (restarting_in_place) {
        front.stop_accepting(http::ListenerStop::kLeaveQueued);
        spdlog::info(
            "draining: stopped accepting on {}; new connections wait in the service "
            "manager's socket for the next derpd",
            front.describe());
        return "";
      }
      front.stop_accepting(http::ListenerStop::kRefuse);
      logging::log_event(
          spdlog::level::info, "drain_stopped_accepting", {{"listener", front.describe()}},
          "draining: stopped accepting on {}; new connections are refused", front.describe());
      return "";
    }
    std::string error = front.resume_accepting();
    if (!error.empty()) {
      front.set_refuse_new_derp(true);
      if (port80) port80->set_refuse_new_derp(true);
      return error + "; the node stays drained: free the port, then undrain again";
    }
    spdlog::info("accepting on {} again", front.describe());
    return "";
  };
  if (stun_server) {
    hooks.stun_replies = [&stun_server, &restarting_in_place](bool enabled) {
      if (!enabled && restarting_in_place) return;
      stun_server->set_replies_enabled(enabled);
    };
  }
  hooks.state_changed = [drain_state](server::DrainState state) {
    drain_state->store(state);
    logging::log_event(spdlog::level::info, "drain_state",
                       {{"state", std::string(server::to_string(state))}}, "drain state: {}",
                       server::to_string(state));
  };
  server::DrainController drain(server, control.get_executor(), std::move(hooks));

  admin::NodeFacts facts;
  facts.mesh = mesh_health;
  facts.change_mesh = [&mesh_control](const std::string& entry, bool add) {
    return mesh_control.change(entry, add);
  };
  if (admission) {
    facts.admit.recent_refusals = [admission] {
      std::vector<admin::RefusalInfo> out;
      for (const auto& r : admission->recent_refusals()) {
        out.push_back({r.key.to_text(), r.source_ip, r.reason, r.at});
      }
      return out;
    };
  }
  if (admit_control) {
    facts.admit.list = [&admit_control] { return admit_control->list(); };
    facts.admit.change = [&admit_control](admin::AdmitAction action, const std::string& target) {
      return admit_control->change(action, target);
    };
  }
  facts.drain_rate = o.drain_rate;
  facts.limits = connection_limits;
  facts.rate_config = o.rate_config;
  auto admin_endpoint =
      start_admin(o.admin, o.dev, server, drain, {&front, port80.get()}, stun_server.get(),
                  certs.get(), cert_manager.get(), std::move(facts));
  std::string derp_url = front.describe() + "/derp";
  std::string stun_text =
      stun_server ? "udp " + host_port(listen.host, stun_server->local_port()) : "off";
  spdlog::info("derpd {} ready: DERP on {}{}, STUN {}, {} workers, server key {}{}", DERPD_VERSION,
               derp_url, port80 ? " (+ plain HTTP " + port80->describe() + ")" : "", stun_text,
               server.worker_count(), server.public_key().to_text(),
               config.mesh_key ? ", mesh key loaded" : "");
  std::cout << "derpd ready: DERP on " << derp_url << ", STUN " << stun_text << std::endl;
  ServiceReporting service(control, server, [&server, &mesh_control, &drain] {
    auto links = mesh_control.links();
    systemd::NodeStatusFacts f;
    f.clients = server.stats().current_connections;
    f.mesh_links = links.size();
    for (const auto& link : links) {
      if (link->health().state == server::MeshLinkState::kUp) ++f.mesh_links_up;
    }
    auto progress = drain.progress();
    f.drain = progress.state;
    f.drain_remaining = progress.remaining;
    return f;
  });
  service.ready();

  asio::steady_timer reload_timer(control);
  auto reload_certs = [&certs](const char* why) {
    if (!certs) return;
    std::string error;
    if (certs->reload_if_changed(error)) {
      const std::string subject = certs->cert_info() ? certs->cert_info()->subject : "";
      logging::log_event(spdlog::level::info, "cert_reloaded",
                         {{"trigger", why}, {"subject", subject}},
                         "TLS certificate reloaded ({}): {}", why, subject);
    } else if (!error.empty()) {
      logging::log_event(spdlog::level::err, "cert_reload_failed", {{"error", error}},
                         "TLS certificate reload failed, still serving the previous one: {}",
                         error);
    }
  };
  std::function<void()> arm_reload = [&] {
    reload_timer.expires_after(std::chrono::seconds(30));
    reload_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      reload_certs("files changed");
      mesh_control.reload_if_changed();
      arm_reload();
    });
  };
  // Certificate files and --mesh-with-file are checked for changes every 30 s (and on SIGHUP).
  if (certs || !o.mesh_with_file.empty()) arm_reload();
  // Memory freed after a burst goes back to the kernel (allocator_tuning.h says why it stays).
  asio::steady_timer trim_timer(control);
  std::function<void()> arm_trim = [&] {
    trim_timer.expires_after(std::chrono::seconds(10));
    trim_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      constexpr std::size_t kKeepFreeBytes = 64u << 20;
      if (std::size_t was_free = tls::give_back_freed_memory(kKeepFreeBytes)) {
        spdlog::info("gave {} MiB of freed memory back to the system", was_free >> 20);
      }
      arm_trim();
    });
  };
  arm_trim();
  // SIGTERM/SIGINT: drain (clients move to siblings), then stop once empty or when the grace
  // time is over; a second signal stops at once.
  asio::steady_timer grace_timer(control);
  std::uint64_t drain_watch = 0;
  bool stopping = false;
  auto stop_now = [&](const char* why) {
    if (stopping) return;
    stopping = true;
    spdlog::info("shutting down: {}", why);
    service.stop();
    if (metrics_listener) metrics_listener->stop();
    reload_timer.cancel();
    trim_timer.cancel();
    grace_timer.cancel();
    signals.cancel();
    control.stop();
  };
  const auto grace = ms(o.shutdown_grace);
  bool draining_for_exit = false;
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload_certs("SIGHUP");
        mesh_control.reload();
        if (admit_control) admit_control->reload();
        if (rate_control) rate_control->reload();
        wait_signal();
        return;
      }
      if (draining_for_exit || grace.count() <= 0 ||
          drain.progress().state == server::DrainState::kDrained) {
        return stop_now(draining_for_exit ? "second signal" : "signal");
      }
      draining_for_exit = true;
      restarting_in_place = front.inherited();
      drain.set_exiting();
      service.shutting_down(grace);
      server::DrainOptions d;
      d.deadline = grace;
      // With no sibling to protect from a herd, everyone may leave at once. In a restart they
      // all reconnect into the kept socket, not to a sibling; pacing would only make the first
      // ones wait longer for the next derpd.
      d.clients_per_second = mesh_control.links().empty() || restarting_in_place ? 0 : o.drain_rate;
      if (restarting_in_place) {
        spdlog::info(
            "the listening socket is the service manager's (socket activation): "
            "connects queue for the next derpd while this one drains");
      }
      if (!drain.drain(d)) {
        spdlog::info("received signal {} while draining: exiting once drained, at most in {} ms",
                     sig, grace.count());
      } else {
        spdlog::info(
            "received signal {}: draining before exit ({} clients/s, at most {} ms); send it "
            "again to exit at once",
            sig, d.clients_per_second, grace.count());
      }
      // Progress once a second in the log (the steps run every 100 ms), then stop when empty.
      auto last_log = std::make_shared<std::chrono::steady_clock::time_point>();
      drain_watch = drain.subscribe([&control, &stop_now,
                                     last_log](const server::DrainProgress& p) {
        const auto now = std::chrono::steady_clock::now();
        if (p.state == server::DrainState::kDrained || now - *last_log >= std::chrono::seconds(1)) {
          *last_log = now;
          spdlog::info("shutting down: {}", p.describe());
        }
        if (p.state != server::DrainState::kDrained) return;
        asio::post(control, [&stop_now] { stop_now("drained"); });
      });
      // The drain closes everyone at its deadline; this is the backstop.
      grace_timer.expires_after(grace + std::chrono::seconds(1));
      grace_timer.async_wait([&](boost::system::error_code e) {
        if (!e) stop_now("shutdown grace over");
      });
      wait_signal();
    });
  };
  wait_signal();
  control.run();
  if (drain_watch) drain.unsubscribe(drain_watch);
  auto stop_started = std::chrono::steady_clock::now();
  auto elapsed_ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 stop_started)
        .count();
  };
  admin_endpoint.reset();  // its calls use the fronts and the core: stop it first

  front.stop();
  if (port80) port80->stop();
  // After the listeners: no handshake asks it for an IP certificate any more.
  if (cert_manager) cert_manager->stop();
  if (!mesh_control.links().empty()) {
    mesh_control.stop();
    spdlog::info("mesh links stopped after {} ms", elapsed_ms());
  }
  if (stun_server) stun_server->stop();
  if (admission) admission->stop();  // no answer reaches a worker after this
  server.stop();
  spdlog::info("derpd stopped in {} ms", elapsed_ms());
  return 0;
}

}  // namespace derp::main
