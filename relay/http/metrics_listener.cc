#include "relay/http/metrics_listener.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>

namespace derp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

MetricsResponse metrics_response(bhttp::verb method, std::string_view target,
                                 const MetricsPages& pages) {
  MetricsResponse r;
  const std::string_view path = target.substr(0, target.find('?'));
  const bool healthz = path == "/healthz" && pages.healthz;
  if (path != "/metrics" && path != "/" && !healthz) {
    r.status = 404;
    r.body = pages.healthz ? "not found: this listener serves /metrics and /healthz only\n"
                           : "not found: this listener serves /metrics only\n";
    return r;
  }
  if (method != bhttp::verb::get && method != bhttp::verb::head) {
    r.status = 405;
    r.body = "only GET and HEAD\n";
    r.allow_header = true;
    return r;
  }
  if (path == "/") {
    r.body = pages.title + ": Prometheus metrics at /metrics\n";
    return r;
  }
  if (healthz) {
    r.body = pages.healthz();
    return r;
  }
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = pages.metrics();
  return r;
}

struct MetricsListener::State : std::enable_shared_from_this<MetricsListener::State> {
  State(asio::io_context& io, MetricsPages p)
      : io(io), acceptor(io), retry(io), pages(std::move(p)) {}
  asio::io_context& io;
  tcp::acceptor acceptor;
  asio::steady_timer retry;  // after a failed accept (out of descriptors): not a busy loop
  std::chrono::milliseconds retry_delay{0};
  MetricsPages pages;
  std::size_t open = 0;
  bool stopped = false;

  void accept();
};

namespace {

constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
constexpr std::chrono::seconds kRequestTimeout{10};

class MetricsConnection : public std::enable_shared_from_this<MetricsConnection> {
 public:
  MetricsConnection(tcp::socket socket, std::shared_ptr<MetricsListener::State> listener)
      : stream_(std::move(socket)), listener_(std::move(listener)) {}
  ~MetricsConnection() { --listener_->open; }

  void read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(0);
    stream_.expires_after(kRequestTimeout);
    bhttp::async_read(
        stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec == bhttp::error::end_of_stream) return self->close();  // a keep-alive peer left
          if (ec == bhttp::error::header_limit) return self->refuse(431);
          if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
            return self->refuse(400);
          }
          if (ec) return self->close();
          self->respond();
        });
  }

 private:
  // A request that did not parse gets its status and the connection ends.
  void refuse(unsigned status) {
    response_.emplace(static_cast<bhttp::status>(status), 11);
    response_->set(bhttp::field::content_type, "text/plain; charset=utf-8");
    response_->body() = status == 431 ? "request header over 8 KiB\n" : "bad request\n";
    response_->keep_alive(false);
    response_->prepare_payload();
    stream_.expires_after(kRequestTimeout);
    bhttp::async_write(
        stream_, *response_,
        [self = shared_from_this()](beast::error_code, std::size_t) { self->close(); });
  }

  void respond() {
    const auto& req = parser_->get();
    auto answer = metrics_response(req.method(), req.target(), listener_->pages);
    response_.emplace(static_cast<bhttp::status>(answer.status), req.version());
    response_->set(bhttp::field::content_type, answer.content_type);
    if (answer.allow_header) response_->set(bhttp::field::allow, "GET, HEAD");
    response_->body() = std::move(answer.body);
    response_->keep_alive(req.keep_alive());
    response_->prepare_payload();
    if (req.method() == bhttp::verb::head) response_->body().clear();
    stream_.expires_after(kRequestTimeout);
    bhttp::async_write(stream_, *response_,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         if (ec || !self->response_->keep_alive()) return self->close();
                         self->read();
                       });
  }
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  std::shared_ptr<MetricsListener::State> listener_;
  beast::flat_buffer buffer_{kMaxHeaderBytes};
  std::optional<bhttp::request_parser<bhttp::empty_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
};

}  // namespace

void MetricsListener::State::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopped) return;
    if (!ec) {
      if (self->open >= kMaxConnections) {
        socket.close(ec);  // a scraper never needs this many; a stranger gets no more
      } else {
        ++self->open;
        std::make_shared<MetricsConnection>(std::move(socket), self)->read();
      }
      self->retry_delay = std::chrono::milliseconds(0);
    } else if (ec == asio::error::operation_aborted) {
      return;
    } else {
      // EMFILE and the like leave the connection queued, so accepting again at once would fail
      // again at once: wait, 50 ms doubling to 1 s, and leave the thread to signals and drains.
      self->retry_delay = std::clamp(self->retry_delay * 2, std::chrono::milliseconds(50),
                                     std::chrono::milliseconds(1000));
      self->retry.expires_after(self->retry_delay);
      self->retry.async_wait([self](beast::error_code wait_ec) {
        if (!wait_ec && !self->stopped) self->accept();
      });
      return;
    }
    self->accept();
  });
}

MetricsListener::MetricsListener(asio::io_context& io, const std::string& host, std::uint16_t port,
                                 MetricsPages pages)
    : state_(std::make_shared<State>(io, std::move(pages))) {
  beast::error_code ec;
  auto address = host.empty() ? asio::ip::address(asio::ip::address_v6::any())
                              : asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error(state_->pages.flag + ": \"" + host + "\" is not an IP address");
  tcp::endpoint ep(address, port);
  auto& a = state_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && host.empty()) a.set_option(asio::ip::v6_only(false), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    const std::string where = address.is_v6()
                                  ? "[" + address.to_string() + "]:" + std::to_string(port)
                                  : address.to_string() + ":" + std::to_string(port);
    throw std::runtime_error(state_->pages.flag + ": cannot listen on " + where + ": " +
                             ec.message());
  }
  state_->accept();
}

MetricsListener::~MetricsListener() {
  stop();
}

void MetricsListener::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  beast::error_code ignored;
  state_->acceptor.close(ignored);
  state_->retry.cancel();
}

std::uint16_t MetricsListener::port() const {
  beast::error_code ec;
  auto ep = state_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::string MetricsListener::describe() const {
  beast::error_code ec;
  auto ep = state_->acceptor.local_endpoint(ec);
  if (ec) return "metrics listener";
  auto a = ep.address();
  std::string host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  return "http://" + host + ":" + std::to_string(ep.port()) + "/metrics";
}

}  // namespace derp::http
