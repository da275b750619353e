// derpd's command line: the flags of Tailscale's derper (protocol §9.1), spelled either Go-style
// (-http-port 80, -stun=false) or GNU-style (--http-port 80), plus derpd's own additions.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "relay/main/admin_flags.h"
#include "relay/main/listen_address.h"

namespace derp::main {

struct Options {
  std::string addr = ":443";
  int http_port = 80;
  int stun_port = 3478;
  bool stun = true;
  bool stun_answer_generic = true;
  bool derp = true;
  std::string key_file;  // -c
  bool dev = false;
  bool print_version = false;
  std::string hostname = "derp.tailscale.com";
  std::string certmode = "letsencrypt";
  std::string certdir;
  // ACME (--certmode letsencrypt / gcp), relay/acme.
  std::string acme_email;
  std::string acme_eab_kid;
  std::string acme_eab_key;
  bool acme_ip_certs = false;
  std::string acme_directory_url;  // ours: a staging or private CA, or a test server
  std::string acme_ca_file;        // ours: trust for that CA's HTTPS API
  std::string acme_challenge = "auto";
  bool force_tls = false;  // --tls: TLS on --addr whatever its port
  std::string home;
  std::string mesh_psk_file;
  std::string mesh_with;
  std::string mesh_with_file;  // re-read on SIGHUP; derpctl mesh add/remove persist to it
  std::chrono::nanoseconds tcp_keepalive_time = std::chrono::minutes(10);
  std::chrono::nanoseconds tcp_user_timeout = std::chrono::seconds(15);
  std::chrono::nanoseconds tcp_write_timeout = std::chrono::seconds(2);
  // SIGTERM/SIGINT drain the node (clients move to siblings) and exit when it is empty or when
  // this has passed; 0 exits at once.
  std::chrono::nanoseconds shutdown_grace = std::chrono::seconds(30);
  double drain_rate = 500;  // clients per second made to leave during a drain; 0: no pacing
  // Connection limits (relay/limits/connection_limits.h); 0 means none.
  std::uint64_t max_connections = 0;
  std::uint64_t max_connections_per_ip = 0;
  double accept_connection_limit = std::numeric_limits<double>::infinity();  // per second
  std::int64_t accept_connection_burst = std::numeric_limits<std::int64_t>::max();
  std::string connection_limit_exempt = "127.0.0.0/8,::1";
  unsigned workers = 0;
  bool worker_packing = true;
  double worker_packing_spread_at = 75;  // percent
  std::string log_level = "info";
  std::string log_format = "text";  // or "json": one object per line
  // Admission (protocol §4.9), with derper's flag names and defaults.
  bool verify_clients = false;
  std::string tailscaled_socket = "/var/run/tailscale/tailscaled.sock";  // --socket
  std::string verify_client_url;
  bool verify_client_url_fail_open = true;
  std::chrono::nanoseconds verify_cache_ttl{0};  // 0: ask about every client
  std::string admit_file;                        // allow/deny rules of our own; "" none
  std::string rate_config;                       // per-client receive limit (JSON); "" none
  std::string bootstrap_dns_names;               // published at /bootstrap-dns; "" none
  std::string unpublished_bootstrap_dns_names;   // answered to ?q= only; NAME[/TXTNAME]
  std::string metrics_listen;                    // Prometheus /metrics on this address; "" off
  AdminOptions admin;                            // --admin-*
};

struct ParsedCommandLine {
  Options options;
  int exit_code = 0;
  bool should_exit = false;  // --help, --version or an error (already printed)
};

ParsedCommandLine parse_command_line(int argc, const char* const* argv);

// The same, with the flag table built once for many parses (the config fuzzer parses thousands of
// command lines a second; derpd itself parses one).
class CommandLineParser {
 public:
  CommandLineParser();
  ~CommandLineParser();
  CommandLineParser(const CommandLineParser&) = delete;
  CommandLineParser& operator=(const CommandLineParser&) = delete;
  ParsedCommandLine parse(int argc, const char* const* argv);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Rewrites Go-style single-dash long flags (-http-port, -stun=false) to --http-port and
// --stun=false; single-letter flags (-a, -c) and negative numbers are left alone.
std::vector<std::string> normalize_go_flags(const std::vector<std::string>& args);

}  // namespace derp::main
