#include "relay/http/http_front.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <future>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "relay/http/header_scan.h"
#include "relay/http/peer_address.h"
#include "relay/http/socket_connection.h"
#include "relay/http/websocket_connection.h"
#include "relay/logging/event.h"
#include "relay/logging/log_throttle.h"
#include "relay/server/ask_workers.h"
#include "relay/tls/acme_challenge.h"
#include "relay/tls/tls_socket.h"
#include "relay/transport/plain_socket.h"
#include "relay/transport/port_group.h"
#include "relay/transport/shared_socket.h"
#include "relay/transport/socket_calls.h"

namespace derp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;

// Shared by the front and every connection it accepted, so it may outlive the front.
struct HttpFront::State {
  State(server::Server& s, ListenerConfig c, DebugPages p)
      : server(s), config(std::move(c)), pages(std::move(p)) {}
  server::Server& server;
  ListenerConfig config;
  DebugPages pages;
  std::atomic<bool> refuse_new_derp{false};
  // One listening socket per worker, touched only on that worker's thread; null while the front
  // does not accept (stop_accepting).
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
};

namespace {

// Bounds the time a connection may spend before its upgrade (TLS handshake, request headers),
// and lets the worker close it on shutdown. Released once the connection becomes DERP.
class PreUpgradeGuard : public std::enable_shared_from_this<PreUpgradeGuard> {
 public:
  explicit PreUpgradeGuard(server::Worker& w) : worker_(w), timer_(w.io()) {}

  void arm(std::chrono::seconds timeout) {
    // A worker that is already stopping runs the closer at once: nothing to wait for then.
    closer_id_ = worker_.add_closer([self = shared_from_this()] { self->close_socket(); });
    if (closed_) return;
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->close_socket();
    });
  }
  void watch(tcp::socket* s) {
    socket_ = s;
    if (closed_) close_socket();
  }
  void release() {
    if (released_) return;
    released_ = true;
    socket_ = nullptr;
    timer_.cancel();
    worker_.remove_closer(closer_id_);
  }
  ~PreUpgradeGuard() = default;

 private:
  // Also cancels the timer: a pending 30 s timer would hold a stopping worker's thread.
  void close_socket() {
    if (released_) return;
    closed_ = true;
    timer_.cancel();
    if (!socket_) return;
    boost::system::error_code ignored;
    socket_->close(ignored);
  }

  server::Worker& worker_;
  asio::steady_timer timer_;
  tcp::socket* socket_ = nullptr;
  std::uint64_t closer_id_ = 0;
  bool released_ = false;
  bool closed_ = false;
};

// Releases the guard on every way out of the connection's coroutine.
struct GuardRelease {
  std::shared_ptr<PreUpgradeGuard> guard;
  ~GuardRelease() { guard->release(); }
};

// The DERP phase's transport for the stream the HTTP phase ran on.
transport::PlainSocket derp_transport(tcp::socket&& socket) {
  return transport::PlainSocket(std::move(socket));
}
tls::TlsSocket derp_transport(tls::TlsSocket&& socket) {
  return std::move(socket);
}

void fill_body_from_node(Route& r, const DebugPages& pages,
                         const std::array<std::uint8_t, 16>& client_ip) {
  if (r.kind == RouteKind::kDebugVars) {
    r.response.result(beast_http::status::ok);
    r.response.set(beast_http::field::content_type, "application/json; charset=utf-8");
    r.response.body() = pages.vars_json ? pages.vars_json() : "{}";
  } else if (r.kind == RouteKind::kDebugVarz) {
    r.response.result(beast_http::status::ok);
    r.response.set(beast_http::field::content_type, "text/plain;version=0.0.4;charset=utf-8");
    r.response.body() = pages.varz_text ? pages.varz_text() : "";
  } else if (r.kind == RouteKind::kBootstrapDns) {
    if (pages.bootstrap_dns) r.response.body() = pages.bootstrap_dns(r.query_name, client_ip);
  } else if (r.kind == RouteKind::kAcmeHttp01) {
    auto answer = pages.acme_http01 ? pages.acme_http01(r.query_name) : std::nullopt;
    r.response.result(answer ? beast_http::status::ok : beast_http::status::not_found);
    r.response.set(beast_http::field::content_type, "text/plain; charset=utf-8");
    r.response.body() = answer ? *answer : "404 page not found\n";
    if (answer) spdlog::info("acme: answered the HTTP-01 challenge for token {}", r.query_name);
  }
}

tcp::socket& tcp_layer(tcp::socket& s) {
  return s;
}
tcp::socket& tcp_layer(tls::TlsSocket& s) {
  return s.next_layer();
}

// Answers `status` and ends the connection. The client may still be sending (the rest of an
// oversized header): closing with unread input would reset the connection and could destroy the
// answer before the client reads it. So the output ends first, and up to 64 KiB of input is read
// and dropped until the client closes (the pre-upgrade deadline bounds the wait).
template <class Stream>
asio::awaitable<void> write_error_and_close(Stream& stream, beast_http::status status,
                                            std::string text) {
  Response res{status, 11};
  res.set(beast_http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(text);
  res.keep_alive(false);
  res.prepare_payload();
  boost::system::error_code ec;
  co_await beast_http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  tcp::socket& socket = tcp_layer(stream);
  socket.shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 4096> sink;
  for (std::size_t dropped = 0; !ec && dropped < 64 * 1024;) {
    std::size_t n = co_await socket.async_read_some(asio::buffer(sink),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    dropped += n;
  }
}

constexpr HeaderLimits kHeaderLimits{};

// Reads until `buffer` holds a whole request header within kHeaderLimits (header_scan.h says why
// Beast's own limit is not enough). Returns the scan: kComplete, a limit, or kNeedMore when the
// peer closed or failed first.
template <class Stream>
asio::awaitable<HeaderScan> read_request_header(Stream& stream, beast::flat_buffer& buffer) {
  HeaderScanner scanner(kHeaderLimits);
  for (;;) {
    auto bytes = buffer.data();
    HeaderScan scan = scanner.scan({static_cast<const char*>(bytes.data()), bytes.size()});
    if (scan.result != HeaderScanResult::kNeedMore) co_return scan;
    boost::system::error_code ec;
    std::size_t n = co_await stream.async_read_some(
        buffer.prepare(kHeaderLimits.max_bytes - std::min(bytes.size(), kHeaderLimits.max_bytes) +
                       1),
        asio::redirect_error(asio::use_awaitable, ec));
    buffer.commit(n);
    if (ec) co_return scan;
  }
}

template <class Stream>
asio::awaitable<void> serve_http(std::shared_ptr<HttpFront::State> st, Stream& stream,
                                 server::Worker& worker, server::ConnectionInfo info,
                                 std::shared_ptr<PreUpgradeGuard> guard, bool debug_peer,
                                 limits::ConnectionSlot& slot) {
  beast::flat_buffer buffer;
  for (;;) {
    const HeaderScan header = co_await read_request_header(stream, buffer);
    if (header.result == HeaderScanResult::kNeedMore) co_return;  // closed mid-header
    if (header.result != HeaderScanResult::kComplete) {
      worker.counters().http_headers_refused.add();
      const bool fields = header.result == HeaderScanResult::kTooManyFields;
      spdlog::debug("request header from {} refused: over {} {}", info.remote_text,
                    fields ? kHeaderLimits.max_fields : kHeaderLimits.max_bytes,
                    fields ? "fields" : "bytes");
      // Named, not a temporary in the co_await: gcc 12 destroys such temporaries twice.
      std::string text =
          fields ? "request header has more than " + std::to_string(kHeaderLimits.max_fields) +
                       " fields\n"
                 : "request header is over " + std::to_string(kHeaderLimits.max_bytes) + " bytes\n";
      co_await write_error_and_close(stream, beast_http::status::request_header_fields_too_large,
                                     std::move(text));
      co_return;
    }
    beast_http::request_parser<beast_http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(kHeaderLimits.max_bytes));
    parser.body_limit(64 * 1024);
    boost::system::error_code ec;
    co_await beast_http::async_read(stream, buffer, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      bool malformed =
          ec.category() == beast_http::make_error_code(beast_http::error::bad_target).category() &&
          ec != beast_http::error::end_of_stream && ec != beast_http::error::partial_message;
      // Malformed request: say so, then close.
      if (malformed) {
        std::string text = "bad request: " + ec.message() + "\n";
        co_await write_error_and_close(stream, beast_http::status::bad_request, std::move(text));
      }
      co_return;
    }
    const Request& req = parser.get();
    FrontConfig front = st->config.front;
    front.refuse_new_derp = st->refuse_new_derp.load();
    RequestContext ctx{debug_peer && req.find("X-Forwarded-For") == req.end()};
    Route route = route_request(req, front, ctx);

    if (route.kind == RouteKind::kDerpUpgrade) {
      guard->release();
      info.not_ideal = route.not_ideal;
      std::string prefix = route.fast_start
                               ? std::string()
                               : derp_upgrade_response(st->server.public_key().to_hex());
      auto transport = derp_transport(std::move(stream));
      auto conn = std::make_shared<SocketConnection<decltype(transport)>>(
          st->server, worker, std::move(transport), std::move(info), std::move(slot));
      auto leftover = buffer.data();
      conn->start(prefix, asio::const_buffer(leftover.data(), leftover.size()));
      co_return;
    }
    if (route.kind == RouteKind::kWebSocketUpgrade) {
      using Ws = beast::websocket::stream<Stream>;
      Ws ws(std::move(stream));
      guard->watch(&beast::get_lowest_layer(ws));
      ws.set_option(
          beast::websocket::stream_base::decorator([](beast::websocket::response_type& res) {
            res.set(beast_http::field::sec_websocket_protocol, "derp");
          }));
      ws.read_message_max(1 << 20);
      co_await ws.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ws.binary(true);
      guard->release();
      worker.counters().websocket_accepts.add();
      info.transport = server::TransportKind::kWebSocket;
      info.not_ideal = route.not_ideal;
      auto conn = std::make_shared<WebSocketConnection<Stream>>(st->server, worker, std::move(ws),
                                                                std::move(info), std::move(slot));
      conn->start("", {});
      co_return;
    }
    fill_body_from_node(route, st->pages, info.remote_ip);
    Response& res = route.response;
    bool keep_alive = req.keep_alive() && res.keep_alive();
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (req.method() == beast_http::verb::head) res.body().clear();
    co_await beast_http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep_alive) co_return;
  }
}

asio::awaitable<void> serve_connection(std::shared_ptr<HttpFront::State> st, tcp::socket socket,
                                       tcp::endpoint remote, server::Worker& worker,
                                       limits::ConnectionSlot slot) {
  boost::system::error_code ec;
  server::ConnectionInfo info = connection_info_for(remote);
  const bool debug_peer = debug_access_allowed(remote.address());

  auto guard = std::make_shared<PreUpgradeGuard>(worker);
  guard->arm(st->config.pre_upgrade_timeout);
  GuardRelease release{guard};

  // Nothing is set up for a connection until it has sent something: no TLS state (SSL object and
  // record buffers, ~40 KiB), no header buffer. A stranger who connects and stays silent costs
  // the socket and this coroutine (tests/integration/silent_connections_test.cc).
  guard->watch(&socket);
  co_await socket.async_wait(tcp::socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;

  if (st->config.tls_context) {
    auto ctx = st->config.tls_context();
    tls::TlsSocket stream(std::move(socket), std::move(ctx));
    guard->watch(&stream.next_layer());
    co_await stream.async_handshake(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      spdlog::debug("TLS handshake with {} failed: {}", info.remote_text, ec.message());
      co_return;
    }
    // A CA validating TLS-ALPN-01 only looks at the certificate: the connection ends here and
    // never reaches HTTP or DERP. The guard's deadline bounds the close.
    if (tls::is_acme_challenge(stream.native_handle())) {
      spdlog::info("acme: answered a TLS-ALPN-01 validation from {}", info.remote_text);
      stream.write_goodbye();
      stream.flush();
      std::array<std::uint8_t, 256> ignored;
      while (!ec) {
        co_await stream.async_read_some(asio::buffer(ignored),
                                        asio::redirect_error(asio::use_awaitable, ec));
      }
      co_return;
    }
    info.transport = server::TransportKind::kTls;
    co_await serve_http(st, stream, worker, std::move(info), guard, debug_peer, slot);
  } else {
    info.transport = server::TransportKind::kPlainHttp;
    co_await serve_http(st, socket, worker, std::move(info), guard, debug_peer, slot);
  }
}

// One line per kind of accept trouble per 10 s for the whole node, not one per connection.
logging::LogThrottle& accept_log_throttle() {
  static logging::LogThrottle throttle(std::chrono::seconds(10));
  return throttle;
}

void log_refusal(const HttpFront::State& st, limits::Refusal reason,
                 const server::ConnectionInfo& info) {
  const auto now = std::chrono::steady_clock::now();
  auto passed =
      accept_log_throttle().allow(std::string("refused:") + std::string(to_string(reason)), now);
  if (!passed) return;
  logging::log_event(spdlog::level::warn, "connection_refused",
                     {{"port", std::to_string(st.config.port)},
                      {"remote", info.remote_text},
                      {"reason", std::string(to_string(reason))},
                      {"suppressed", std::to_string(*passed)}},
                     "port {}: refused a connection from {}: {}{}", st.config.port,
                     info.remote_text, explain(reason), logging::LogThrottle::suffix(*passed));
}

bool is_descriptor_shortage(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

// Closes at once with a reset: a refused stranger gets no TIME_WAIT state on this side.
void close_refused(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

asio::awaitable<void> accept_loop(std::shared_ptr<HttpFront::State> st,
                                  std::shared_ptr<tcp::acceptor> acceptor, server::Worker& worker) {
  // While descriptors are short, pause accepting (the kernel keeps queueing in the backlog) with
  // a growing pause, and say so once per episode instead of once per failed accept.
  std::chrono::milliseconds pause_for{0};
  std::uint64_t failed_in_episode = 0;
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor->is_open() || ec == asio::error::operation_aborted) co_return;
      if (is_descriptor_shortage(ec)) {
        // Once per episode per worker, and once per 10 s for the whole port.
        auto passed = failed_in_episode++ == 0 ? accept_log_throttle().allow(
                                                     "fd-short:" + std::to_string(st->config.port),
                                                     std::chrono::steady_clock::now())
                                               : std::nullopt;
        if (passed) {
          spdlog::warn(
              "port {}: out of file descriptors ({}); pausing accepts until some close "
              "(raise LimitNOFILE / ulimit -n, or lower --max-connections){}",
              st->config.port, ec.message(), logging::LogThrottle::suffix(*passed));
        }
        pause_for = std::clamp(pause_for * 2, std::chrono::milliseconds(50),
                               std::chrono::milliseconds(1000));
        asio::steady_timer pause(worker.io(), pause_for);
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      } else if (auto passed = accept_log_throttle().allow("accept-error",
                                                           std::chrono::steady_clock::now())) {
        spdlog::warn("accept on port {} failed: {}{}", st->config.port, ec.message(),
                     logging::LogThrottle::suffix(*passed));
      }
      continue;
    }
    if (failed_in_episode > 0) {
      if (auto passed = accept_log_throttle().allow("fd-ok:" + std::to_string(st->config.port),
                                                    std::chrono::steady_clock::now())) {
        spdlog::info("port {}: accepting again after {} accepts failed for lack of descriptors{}",
                     st->config.port, failed_in_episode, logging::LogThrottle::suffix(*passed));
      }
      failed_in_episode = 0;
      pause_for = std::chrono::milliseconds(0);
    }
    // A peer that is already gone has no address: nothing to serve.
    const auto remote = socket.remote_endpoint(ec);
    if (ec) {
      close_refused(socket);
      continue;
    }
    limits::ConnectionSlot slot;
    if (st->config.limits) {
      auto admission = st->config.limits->admit(remote.address(), socket.native_handle(),
                                                std::chrono::steady_clock::now());
      if (!admission.slot) {
        log_refusal(*st, admission.refused, connection_info_for(remote));
        close_refused(socket);
        continue;
      }
      slot = std::move(admission.slot);
    }
    transport::set_tcp_options(socket, st->config.tcp.keepalive_idle, st->config.tcp.user_timeout);
    asio::co_spawn(worker.io(),
                   serve_connection(st, std::move(socket), remote, worker, std::move(slot)),
                   asio::detached);
  }
}

tcp::endpoint bind_endpoint(const std::string& host, std::uint16_t port) {
  if (host.empty()) return {asio::ip::address_v6::any(), port};
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("listen address \"" + host + "\" is not an IP address");
  return {addr, port};
}

}  // namespace

HttpFront::HttpFront(server::Server& server, ListenerConfig config, DebugPages pages)
    : server_(server),
      state_(std::make_shared<State>(server, std::move(config), std::move(pages))) {
  state_->acceptors.resize(server_.worker_count());
}

HttpFront::~HttpFront() {
  stop();
  if (shared_fd_ >= 0) ::close(shared_fd_);
  if (state_->config.inherited_fd >= 0) ::close(state_->config.inherited_fd);  // never started
}

namespace {

// One listening socket per worker on `endpoint`, all in one SO_REUSEPORT group
// (relay/transport/port_group.h). Throws std::runtime_error naming `where`.
std::vector<std::shared_ptr<tcp::acceptor>> open_acceptors(server::Server& server,
                                                           const tcp::endpoint& endpoint,
                                                           const std::string& where) {
  auto contexts = server.worker_contexts();
  std::vector<std::shared_ptr<tcp::acceptor>> out;
  try {
    auto acceptors =
        transport::open_port_group<tcp::acceptor>(endpoint, contexts, [](tcp::acceptor&) {});
    for (auto& a : acceptors) {
      boost::system::error_code ec;
      a.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) throw transport::PortGroupError(ec, "listen");
      out.push_back(std::make_shared<tcp::acceptor>(std::move(a)));
    }
  } catch (const transport::PortGroupError& e) {
    if (e.address_in_use()) {
      throw std::runtime_error("cannot listen on " + where +
                               ": address already in use (another process has this port; pick "
                               "another with -a)");
    }
    throw std::runtime_error("cannot listen on " + where + ": " + e.what());
  }
  return out;
}

// Every worker accepts on a duplicate of the inherited listening socket `fd`. listen() first: a
// refusing drain shut the socket down and this arms it again (on a listening socket it only sets
// the backlog). Throws std::runtime_error naming `where`.
std::vector<std::shared_ptr<tcp::acceptor>> adopt_acceptors(server::Server& server, int fd,
                                                            std::uint16_t expected_port,
                                                            const std::string& where) {
  if (::listen(fd, asio::socket_base::max_listen_connections) != 0) {
    throw std::runtime_error("cannot listen on " + where +
                             " (socket from the service manager): " + std::strerror(errno));
  }
  auto contexts = server.worker_contexts();
  std::vector<std::shared_ptr<tcp::acceptor>> out;
  try {
    for (auto& a : transport::share_socket<tcp::acceptor>(fd, contexts)) {
      out.push_back(std::make_shared<tcp::acceptor>(std::move(a)));
    }
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot accept on " + where + ": " + e.what());
  }
  // A socket bound to port 0 loses its port when shut down; listen() then picks another.
  if (expected_port != 0 && out.front()->local_endpoint().port() != expected_port) {
    throw std::runtime_error(where +
                             ": the service manager's socket lost its port; restart the "
                             "socket unit (systemctl restart derpd.socket derpd)");
  }
  return out;
}

// Runs `task` on every worker's thread and waits until all have run, at most 5 s: a wedged
// worker must not wedge the caller (a drain, an undrain, the SIGTERM handler) too. Returns false
// when some worker did not answer in time; its task still runs if it ever wakes.
bool on_every_worker(server::Server& server, std::function<void(server::Worker&)> task) {
  auto done = server::ask_every_worker<int>(server, [task = std::move(task)](server::Worker& w) {
    task(w);
    return 1;
  });
  if (server::wait_at_most(done, std::chrono::seconds(5))) return true;
  spdlog::error("a worker did not answer within 5 s (stuck?); carrying on without it");
  return false;
}

}  // namespace

void HttpFront::start() {
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  if (state_->config.inherited_fd >= 0) {
    shared_fd_ = std::exchange(state_->config.inherited_fd, -1);
    acceptors = adopt_acceptors(server_, shared_fd_, 0, describe());
  } else {
    acceptors = open_acceptors(server_, bind_endpoint(state_->config.host, state_->config.port),
                               describe());
  }
  bound_port_ = acceptors.front()->local_endpoint().port();
  for (std::size_t i = 0; i < server_.worker_count(); ++i) {
    auto& worker = server_.worker(i);
    // The closer holds the state, so the acceptor outlives every use of it, whatever the order in
    // which the front and the workers are torn down.
    asio::post(worker.io(), [st = state_, i, &worker, acceptor = acceptors[i]] {
      worker.add_closer([st, i] {
        if (auto& a = st->acceptors[i]) {
          boost::system::error_code ignored;
          a->close(ignored);
        }
      });
      st->acceptors[i] = acceptor;
      asio::co_spawn(worker.io(), accept_loop(st, acceptor, worker), asio::detached);
    });
  }
  accepting_.store(true);
}

void HttpFront::stop_accepting(ListenerStop how) {
  if (!accepting_.exchange(false)) return;
  // Before the workers close their copies: a connect that arrives in between is refused, not
  // queued for nobody.
  if (shared_fd_ >= 0 && how == ListenerStop::kRefuse) ::shutdown(shared_fd_, SHUT_RD);
  on_every_worker(server_, [st = state_](server::Worker& w) {
    if (auto a = std::exchange(st->acceptors[w.index()], nullptr)) {
      boost::system::error_code ignored;
      a->close(ignored);  // connects are refused from here on; accepted connections carry on
    }
  });
}

std::string HttpFront::resume_accepting() {
  if (accepting_.load()) return "";
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  try {
    acceptors =
        shared_fd_ >= 0
            ? adopt_acceptors(server_, shared_fd_, bound_port_, describe())
            : open_acceptors(server_, bind_endpoint(state_->config.host, bound_port_), describe());
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  if (!on_every_worker(server_, [st = state_, acceptors](server::Worker& w) {
        st->acceptors[w.index()] = acceptors[w.index()];
        asio::co_spawn(w.io(), accept_loop(st, acceptors[w.index()], w), asio::detached);
      })) {
    // A stuck worker will accept once it wakes; the others already do.
    spdlog::warn("{}: accepting again, but a worker is not answering", describe());
  }
  accepting_.store(true);
  return "";
}

void HttpFront::set_refuse_new_derp(bool refuse) {
  state_->refuse_new_derp.store(refuse);
}

void HttpFront::stop() {
  accepting_.store(false);
  for (std::size_t i = 0; i < state_->acceptors.size(); ++i) {
    asio::post(server_.worker(i).io(), [st = state_, i] {
      if (auto& a = st->acceptors[i]) {
        boost::system::error_code ignored;
        a->close(ignored);
      }
    });
  }
}

std::string HttpFront::describe() const {
  std::string scheme = state_->config.tls_context ? "https" : "http";
  std::string host = state_->config.host.empty() ? "[::]" : state_->config.host;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return scheme + "://" + host + ":" +
         std::to_string(bound_port_ ? bound_port_ : state_->config.port);
}

}  // namespace derp::http
