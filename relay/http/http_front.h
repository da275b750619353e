// The HTTP(S) listener of a node: accepts on every worker (one SO_REUSEPORT socket each, so a
// connection stays on the worker that accepted it), serves the endpoints of protocol §1.5 and hands
// /derp upgrades to SocketConnection (TCP, TLS) or WebSocketConnection.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "relay/http/routes.h"
#include "relay/limits/connection_limits.h"
#include "relay/server/server.h"

namespace derp::http {

struct TcpOptions {
  std::chrono::seconds keepalive_idle{600};       // -tcp-keepalive-time
  std::chrono::milliseconds user_timeout{15000};  // -tcp-user-timeout
};

struct ListenerConfig {
  std::string host;  // "" binds the dual-stack wildcard
  std::uint16_t port = 0;
  FrontConfig front;
  TcpOptions tcp;
  // Returns the TLS context for a new connection; empty for plain HTTP. Called per connection so a
  // reloaded certificate applies to new connections at once.
  std::function<std::shared_ptr<boost::asio::ssl::context>()> tls_context;
  std::chrono::seconds pre_upgrade_timeout{30};  // TLS handshake + request headers
  // Checked for every accepted connection (relay/limits); null admits everything. Shared by every
  // listener of the node, so the limits count connections on all of them together.
  std::shared_ptr<limits::ConnectionLimits> limits;
  // A listening socket the service manager passed in (relay/systemd/socket_activation.h), used
  // instead of binding one; the front owns it from start(). -1: bind host:port.
  int inherited_fd = -1;
};

// How stop_accepting() leaves the port. With a socket of the node's own, both close it and
// connects are refused. With one from the service manager (which keeps a copy), kRefuse shuts the
// socket down so connects are refused all the same, while kLeaveQueued only stops this process
// from accepting: connects then wait in the kernel's queue for the next derpd (a restart).
enum class ListenerStop { kRefuse, kLeaveQueued };

// Bodies the node produces on demand: /debug/vars, /debug/varz and /bootstrap-dns.
struct DebugPages {
  std::function<std::string()> vars_json;
  std::function<std::string()> varz_text;
  // `?q=` of the request ("" without one) and the client's address (IPv4 v4-mapped). Empty: no
  // --bootstrap-dns-names.
  std::function<std::string(std::string_view q, const std::array<std::uint8_t, 16>& client_ip)>
      bootstrap_dns;
  // Port 80: the ACME HTTP-01 key authorisation for a token (relay/acme/challenge_book.h);
  // nullopt or empty: 404.
  std::function<std::optional<std::string>(std::string_view token)> acme_http01;
};

class HttpFront {
 public:
  HttpFront(server::Server& server, ListenerConfig config, DebugPages pages);
  ~HttpFront();
  // Binds and starts accepting on every worker. Throws std::runtime_error naming the address.
  void start();
  void stop();
  // Closes every worker's listening socket, so that a connect is refused at once (a drained node:
  // Tailscale clients fail over to the next node of their region only when the TCP connect
  // fails). Connections already accepted carry on. Returns once every worker has closed its
  // socket. Call from a thread that is not a worker's.
  void stop_accepting(ListenerStop how = ListenerStop::kRefuse);
  // Binds the same address again after stop_accepting(). Returns "" on success, else what went
  // wrong in operator words (another process took the port meanwhile); the front then stays
  // closed. Call from a thread that is not a worker's.
  std::string resume_accepting();
  bool accepting() const { return accepting_.load(); }
  // True when the listening socket came from the service manager (socket activation).
  bool inherited() const { return shared_fd_ >= 0; }
  std::uint16_t port() const { return bound_port_; }
  std::string describe() const;  // "http://127.0.0.1:3340" for logs
  // Draining: refuse new DERP upgrades and report not-serving on /derp/probe.
  void set_refuse_new_derp(bool refuse);

  struct State;

 private:
  server::Server& server_;
  std::shared_ptr<State> state_;
  std::uint16_t bound_port_ = 0;
  int shared_fd_ = -1;  // the inherited listening socket; every worker accepts on a duplicate
  std::atomic<bool> accepting_{false};
};

}  // namespace derp::http
