#include "relay/main/options.h"

#include <CLI/CLI.hpp>

#include <cctype>
#include <iostream>
#include <stdexcept>

#include "relay/main/go_duration.h"

namespace derp::main {

std::vector<std::string> normalize_go_flags(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  bool done = false;
  for (const auto& a : args) {
    if (done || a == "--") {
      done = true;
      out.push_back(a);
      continue;
    }
    bool single_dash_word = a.size() > 2 && a[0] == '-' && a[1] != '-' &&
                            std::isalpha(static_cast<unsigned char>(a[1]));
    if (!single_dash_word) {
      out.push_back(a);
      continue;
    }
    auto eq = a.find('=');
    std::string name = a.substr(1, eq == std::string::npos ? std::string::npos : eq - 1);
    if (name.size() == 1) {
      // "-a=:443" → "-a" ":443"; "-ab" is not a derper spelling, leave it to CLI11.
      if (eq != std::string::npos) {
        out.push_back("-" + name);
        out.push_back(a.substr(eq + 1));
      } else {
        out.push_back(a);
      }
      continue;
    }
    out.push_back("-" + a);
  }
  return out;
}

namespace {

// A Go-duration option (e.g. --tcp-write-timeout 2s).
void add_duration(CLI::App& app, const std::string& name, std::chrono::nanoseconds& target,
                  const std::string& help) {
  app.add_option_function<std::string>(
         name,
         [&target, name](const std::string& text) {
           auto d = parse_go_duration(text);
           if (!d) {
             throw CLI::ValidationError(
                 name, "\"" + text + "\" is not a duration like 10m, 15s or 500ms");
           }
           target = *d;
         },
         help)
      ->type_name("DURATION");
}

// The flags, bound to `o`.
void add_flags(CLI::App& app, Options& o) {
  app.get_formatter()->column_width(34);
  app.add_option(
         "-a,--addr", o.addr,
         "Main listen address (:port, ip:port, [ip6]:port). TLS when the port is 443, with "
         "--certmode=manual or with --tls, plain HTTP otherwise. Under systemd with derpd.socket "
         "(LISTEN_FDS), the sockets for this port, --http-port and --stun-port come from "
         "systemd and outlive a restart")
      ->capture_default_str();
  app.add_option("--http-port", o.http_port,
                 "Plain HTTP port served beside TLS (captive-portal check, redirects); -1 disables")
      ->capture_default_str();
  app.add_option("--stun-port", o.stun_port, "STUN UDP port")->capture_default_str();
  app.add_flag("--stun", o.stun, "Run the STUN server (--stun=false turns it off)")
      ->capture_default_str();
  app.add_flag(
         "--stun-generic", o.stun_answer_generic,
         "Also answer plain RFC 5389 Binding requests (the reference answers only Tailscale's)")
      ->capture_default_str();
  app.add_flag("--derp", o.derp, "Serve DERP; with --derp=false only STUN and HTTP endpoints run")
      ->capture_default_str();
  app.add_option(
      "-c,--config", o.key_file,
      "Server key file {\"PrivateKey\":\"privkey:…\"}, created (mode 0600) when missing. "
      "Root defaults to /var/lib/derper/derper.key");
  app.add_flag("--dev", o.dev,
               "Development node: plain HTTP on 127.0.0.1:3340, STUN on 127.0.0.1:3478, a fresh "
               "key each start, mesh key from $TAILSCALE_DERPER_MESH_KEY");
  app.add_flag("--version", o.print_version, "Print the version and exit");
  app.add_option("--hostname", o.hostname,
                 "TLS hostname (an IP with --certmode=manual, or letsencrypt with --acme-ip-certs)")
      ->capture_default_str();
  app.add_option("--certmode", o.certmode,
                 "Certificate mode: letsencrypt (ACME, obtained and renewed in the background; "
                 "needs TCP 443 or 80 open to the CA), gcp (Google's ACME CA; needs --acme-email "
                 "and --acme-eab-kid/--acme-eab-key) or manual (<certdir>/<hostname>.crt and .key, "
                 "reloaded when they change)")
      ->capture_default_str();
  app.add_option("--certdir", o.certdir,
                 "Folder of the certificates and the ACME account key (default: "
                 "~/.cache/tailscale/derper-certs; derper's ACME files there are taken over)");
  app.add_flag("--tls", o.force_tls,
               "Serve TLS on --addr whatever its port, also with --certmode letsencrypt/gcp (e.g. "
               "behind a port forward from 443); derper serves TLS only on port 443 or with "
               "--certmode manual")
      ->capture_default_str();
  app.add_option("--acme-email", o.acme_email, "ACME account contact address (required for gcp)");
  app.add_option("--acme-eab-kid", o.acme_eab_kid, "ACME External Account Binding key ID");
  app.add_option("--acme-eab-key", o.acme_eab_key,
                 "ACME External Account Binding MAC key, base64url or standard base64");
  app.add_flag("--acme-ip-certs", o.acme_ip_certs,
               "With --certmode letsencrypt, certify IP addresses (RFC 8738): an IP --hostname, or "
               "beside a DNS hostname the addresses handshakes without a name arrive on")
      ->capture_default_str();
  app.add_option("--acme-directory-url", o.acme_directory_url,
                 "ACME directory instead of the mode's CA, e.g. Let's Encrypt staging "
                 "https://acme-staging-v02.api.letsencrypt.org/directory or a private CA");
  app.add_option("--acme-ca-file", o.acme_ca_file,
                 "PEM file of CA certificates to trust for the ACME directory's HTTPS, beside the "
                 "system's (a private CA)");
  app.add_option("--acme-challenge", o.acme_challenge,
                 "ACME challenge: auto (TLS-ALPN-01 on the TLS port, else HTTP-01 on --http-port), "
                 "tls-alpn-01 or http-01")
      ->capture_default_str();
  app.add_option("--home", o.home,
                 "Home page: empty for the default page, \"blank\", or an http(s):// URL to "
                 "redirect to");
  app.add_option("--mesh-psk-file", o.mesh_psk_file,
                 "File with the region's mesh key (64 hex digits). Peers that present it may "
                 "watch connections and forward packets");
  app.add_option("--mesh-with", o.mesh_with,
                 "Siblings of this node's region, comma-separated: host, host:port, host/dialhost "
                 "(dial dialhost, verify host) or http://host:port for plain-HTTP dev regions. "
                 "Needs the mesh key; this node's own --hostname is skipped");
  app.add_option("--mesh-with-file", o.mesh_with_file,
                 "Siblings from a file, one --mesh-with entry per line (# comments). Re-read on "
                 "SIGHUP: siblings added or removed there are linked or unlinked without a "
                 "restart. derpctl mesh add/remove write it back. Combines with --mesh-with")
      ->type_name("FILE");
  add_duration(app, "--tcp-keepalive-time", o.tcp_keepalive_time,
               "TCP keepalive idle time of accepted connections and mesh links (default 10m; 0 "
               "turns keepalive off)");
  add_duration(app, "--tcp-user-timeout", o.tcp_user_timeout,
               "TCP_USER_TIMEOUT of accepted connections (default 15s)");
  add_duration(app, "--tcp-write-timeout", o.tcp_write_timeout,
               "Close a client whose write takes longer than this; 0 disables (default 2s; mesh "
               "peers always get 30s)");
  add_duration(app, "--shutdown-grace", o.shutdown_grace,
               "On SIGTERM/SIGINT, drain first: stop accepting (connects are refused, so clients "
               "move to the next node of their region), let clients leave in paced batches, mesh "
               "peers last, and exit once empty or after this long (default 30s). A second signal "
               "exits at once; 0 exits at once");
  app.add_option("--drain-rate", o.drain_rate,
                 "Clients per second a drain (SIGTERM or derpctl drain without --rate) moves "
                 "to siblings; 0 moves everyone at once. Each costs a sibling one TLS handshake")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-connections", o.max_connections,
                 "Most connections open at once, on all listeners together (0: no limit). One "
                 "more is closed as soon as it is accepted. Exempt peers are not counted")
      ->capture_default_str();
  app.add_option("--max-connections-per-ip", o.max_connections_per_ip,
                 "Most connections open at once from one source address, IPv6 per /64 (0: no "
                 "limit)")
      ->capture_default_str();
  app.add_option("--accept-connection-limit", o.accept_connection_limit,
                 "Connections accepted per second, as derper (inf or 0: no limit); over it "
                 "a connection is closed at once")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--accept-connection-burst", o.accept_connection_burst,
                 "Burst allowed above --accept-connection-limit, as derper")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--connection-limit-exempt", o.connection_limit_exempt,
                 "Source addresses (CIDR, comma-separated) that the three limits above skip. "
                 "Mesh siblings are exempt too, by the address this node dials them at")
      ->capture_default_str();
  app.add_flag("--verify-clients", o.verify_clients,
               "Admit only clients that the local tailscaled (--socket) knows as nodes of its "
               "tailnet, as derper. Mesh peers are always admitted")
      ->capture_default_str();
  app.add_option("--socket", o.tailscaled_socket,
                 "tailscaled's LocalAPI socket, for --verify-clients")
      ->capture_default_str();
  app.add_option(
         "--verify-client-url", o.verify_client_url,
         "Admission controller: for each client derpd POSTs "
         "{\"NodePublic\":\"nodekey:…\",\"Source\":\"IP\"} here (5 s timeout) and admits it "
         "only on a 200 with {\"Allow\":true}. Runs after --verify-clients")
      ->capture_default_str();
  app.add_flag("--verify-client-url-fail-open", o.verify_client_url_fail_open,
               "Admit clients while the --verify-client-url controller cannot be reached at all "
               "(an answer other than 200 always refuses)")
      ->capture_default_str();
  app.add_option("--admit-file", o.admit_file,
                 "Admission rules of the node's own, one per line: allow|deny nodekey:<hex> or "
                 "an address range (deny 192.0.2.0/24). A matching deny refuses, a matching allow "
                 "admits without asking tailscaled or the URL; with allow rules and no other "
                 "check, everyone else is refused. Re-read on SIGHUP; derpctl admit edits it")
      ->capture_default_str();
  add_duration(app, "--verify-cache-ttl", o.verify_cache_ttl,
               "Reuse an answer of --verify-clients/--verify-client-url for the same node key and "
               "address this long (e.g. 5m), so a reconnect storm after a drain does not ask once "
               "per client; fail-open admits are never reused (default 0: always ask)");
  app.add_option("--rate-config", o.rate_config,
                 "Per-client receive limit, as derper: a JSON file "
                 "{\"PerClientRateLimitBytesPerSec\":N,\"PerClientRateBurstBytes\":N}. A client "
                 "over it is slowed (derpd stops reading from it), never dropped; mesh peers are "
                 "exempt. Re-read on SIGHUP; derpctl client limit sets one key's limit")
      ->capture_default_str();
  app.add_option("--bootstrap-dns-names", o.bootstrap_dns_names,
                 "Comma-separated names whose addresses /bootstrap-dns serves, as derper: "
                 "Tailscale clients ask for them when their own DNS fails. Resolved at start and "
                 "every 10 minutes")
      ->capture_default_str();
  app.add_option("--unpublished-bootstrap-dns-names", o.unpublished_bootstrap_dns_names,
                 "Comma-separated names /bootstrap-dns answers only to ?q=NAME, as derper. "
                 "NAME/TXTNAME rolls NAME out to the percentage (0-100) in TXTNAME's TXT record, "
                 "chosen by client address (no record: 0 %; loopback clients: 50 %)")
      ->capture_default_str();
  app.add_option("--metrics-listen", o.metrics_listen,
                 "Serve Prometheus metrics at http://ADDR/metrics (e.g. 10.0.0.5:9466): the "
                 "/debug/varz text, for a monitoring host that /debug's loopback/Tailscale-IP rule "
                 "would refuse. Nothing else is served there; bind it to a private address")
      ->capture_default_str();
  app.add_option("--workers", o.workers, "Worker threads (default: one per core)")
      ->capture_default_str();
  app.add_flag("--worker-packing", o.worker_packing,
               "Carry clients on as few worker threads as the load needs (on by default): one at "
               "first, one more whenever an active worker is busier than "
               "--worker-packing-spread-at, one fewer once all of them have stayed under 30 % of "
               "a core per remaining worker for 10 s (and none was brought in for 30 s). A light "
               "load then costs about half the CPU per packet. =false keeps every connection on "
               "the worker that accepted it")
      ->capture_default_str();
  app.add_option("--worker-packing-spread-at", o.worker_packing_spread_at,
                 "Busy share (percent of one core, per second) of an active worker at which "
                 "the packing brings in one more worker and moves a share of the clients to it. "
                 "The quiet threshold is lowered to at most 40 % of this")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  app.add_option("--log-format", o.log_format,
                 "text, or json: one object per line {\"time\",\"level\",\"msg\"} for log "
                 "pipelines, with \"event\" and its key fields on the lines that matter "
                 "(client_connected, mesh_link_up, drain_state, cert_reloaded, ...)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  add_admin_flags(app, o.admin);
}

}  // namespace

struct CommandLineParser::Impl {
  Options o;
  CLI::App app{
      "derpd: a DERP relay node for Tailscale clients (drop-in for Tailscale's derper).\n"
      "Flags may be written Go-style (-http-port 80, -stun=false) or as --http-port 80.",
      "derpd"};
  Impl() { add_flags(app, o); }
};

CommandLineParser::CommandLineParser() : impl_(std::make_unique<Impl>()) {}
CommandLineParser::~CommandLineParser() = default;

ParsedCommandLine parse_command_line(int argc, const char* const* argv) {
  return CommandLineParser().parse(argc, argv);
}

ParsedCommandLine CommandLineParser::parse(int argc, const char* const* argv) {
  ParsedCommandLine result;
  // The flags stay bound to impl_->o: reset it in place, not replace it.
  Options& o = impl_->o;
  o = Options{};
  CLI::App& app = impl_->app;
  app.clear();
  std::vector<std::string> raw(argv + 1, argv + argc);
  auto args = normalize_go_flags(raw);
  std::vector<const char*> cargs{argv[0]};
  for (const auto& a : args) cargs.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(cargs.size()), cargs.data());
  } catch (const CLI::ParseError& e) {
    result.exit_code = app.exit(e);
    if (result.exit_code != 0) result.exit_code = 2;
    result.should_exit = true;
    return result;
  }
  if (o.print_version) {
    std::cout << "derpd " << DERPD_VERSION << "\n";
    result.should_exit = true;
  }
  result.options = o;
  return result;
}

}  // namespace derp::main
