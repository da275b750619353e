#include "relay/client/http_call.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <limits>

#include "relay/client/derp_url.h"
#include "relay/tls/client_context.h"
#include "relay/tls/tls_socket.h"

namespace derp::client {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Closes the connection when the deadline passes, so that whatever is pending fails. The timer's
// handler may already be queued when the call ends; it then finds the state dead and does nothing.
class Deadline {
 public:
  Deadline(asio::any_io_executor ex, std::chrono::milliseconds after) : timer_(ex) {
    timer_.expires_after(after);
    timer_.async_wait([state = state_](error_code ec) {
      if (ec || !state->alive) return;
      state->expired = true;
      if (state->expire) state->expire();
    });
  }
  ~Deadline() {
    state_->alive = false;
    state_->expire = nullptr;
    timer_.cancel();
  }
  // What to close when the time is up (the connection of the current step).
  void on_expiry(std::function<void()> expire) { state_->expire = std::move(expire); }
  bool expired() const { return state_->expired; }

 private:
  struct State {
    bool alive = true;
    bool expired = false;
    std::function<void()> expire;
  };
  asio::steady_timer timer_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

std::string describe(const error_code& ec, const Deadline& deadline, const std::string& step) {
  if (deadline.expired()) return "timed out (" + step + ")";
  return step + ": " + ec.message();
}

// The request and its answer over a connected stream.
template <class Stream>
asio::awaitable<HttpAnswer> exchange(Stream& stream, const HttpCall& call,
                                     const Deadline& deadline) {
  HttpAnswer answer;
  http::request<http::string_body> request{http::string_to_verb(call.method), call.target, 11};
  request.set(http::field::host, call.host_header);
  request.set(http::field::user_agent, "derpd");
  for (const auto& [name, value] : call.headers) request.set(name, value);
  request.body() = call.body;
  request.prepare_payload();
  error_code ec;
  co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    answer.error = describe(ec, deadline, "sending the request");
    co_return answer;
  }
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  // No body limit while the header is read: Beast would refuse an announced Content-Length over
  // it as a header error, and a large answer is an answer (it refuses), not an unreachable URL.
  // (Not boost::none: Beast 1.74 compares a length against an empty limit as exceeding it.)
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  co_await http::async_read_header(stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    answer.error = describe(ec, deadline, "reading the answer");
    co_return answer;
  }
  answer.reached = true;
  answer.status = parser.get().result_int();
  for (const auto& field : parser.get()) {
    answer.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  if (auto length = parser.content_length(); length && *length > call.max_body) {
    answer.body_too_large = true;
    answer.error = "answer body of " + std::to_string(*length) + " bytes";
    co_return answer;
  }
  parser.body_limit(call.max_body);  // a chunked body is counted as it comes
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  answer.body = parser.get().body();
  if (ec == http::error::body_limit) {
    answer.body_too_large = true;
    answer.error = "answer body over " + std::to_string(call.max_body) + " bytes";
  } else if (ec && ec != http::error::end_of_stream) {
    answer.error = describe(ec, deadline, "reading the answer's body");
  }
  co_return answer;
}

}  // namespace

std::string HttpAnswer::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (boost::beast::iequals(key, name)) return value;
  }
  return "";
}

std::string check_url(const std::string& url) {
  auto parsed = parse_derp_url(url);
  if (!parsed || parsed->websocket) return "\"" + url + "\" is not an http:// or https:// URL";
  return "";
}

asio::awaitable<HttpAnswer> call_url(asio::any_io_executor ex, std::string url, HttpCall call,
                                     std::shared_ptr<asio::ssl::context> tls_context) {
  HttpAnswer answer;
  auto parsed = parse_derp_url(url);
  if (!parsed || parsed->websocket) {
    answer.error = check_url(url);
    co_return answer;
  }
  // parse_derp_url defaults the path to /derp; here a URL without one means "/".
  const auto scheme_end = url.find("://") + 3;
  call.target = url.find('/', scheme_end) == std::string::npos ? "/" : parsed->path;
  call.host_header = parsed->host_header();

  tcp::socket socket(ex);
  Deadline deadline(ex, call.timeout);
  deadline.on_expiry([&socket] {
    error_code ignored;
    socket.close(ignored);
  });
  error_code ec;
  tcp::resolver resolver(ex);
  const std::string port = std::to_string(parsed->port);
  auto endpoints = co_await resolver.async_resolve(parsed->host, port,
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec || deadline.expired()) {
    answer.error = describe(ec, deadline, "resolving the host");
    co_return answer;
  }
  co_await asio::async_connect(socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec || deadline.expired()) {
    answer.error = describe(ec, deadline, "connecting");
    co_return answer;
  }
  if (!parsed->tls) {
    answer = co_await exchange(socket, call, deadline);
    co_return answer;
  }
  tls::TlsSocket stream(std::move(socket), tls_context, tls::TlsRole::kClient);
  deadline.on_expiry([&stream] {
    error_code ignored;
    stream.next_layer().close(ignored);
  });
  tls::prepare_client_ssl(stream.native_handle(), parsed->host, /*verify_peer=*/true);
  co_await stream.async_handshake(asio::redirect_error(asio::use_awaitable, ec));
  if (ec || deadline.expired()) {
    answer.error = describe(ec, deadline, "TLS handshake");
    co_return answer;
  }
  answer = co_await exchange(stream, call, deadline);
  co_return answer;
}

asio::awaitable<HttpAnswer> call_unix_socket(asio::any_io_executor ex, std::string socket_path,
                                             HttpCall call) {
  HttpAnswer answer;
  asio::local::stream_protocol::socket socket(ex);
  Deadline deadline(ex, call.timeout);
  deadline.on_expiry([&socket] {
    error_code ignored;
    socket.close(ignored);
  });
  error_code ec;
  co_await socket.async_connect(asio::local::stream_protocol::endpoint(socket_path),
                                asio::redirect_error(asio::use_awaitable, ec));
  if (ec || deadline.expired()) {
    answer.error = describe(ec, deadline, "connecting to " + socket_path);
    co_return answer;
  }
  answer = co_await exchange(socket, call, deadline);
  co_return answer;
}

}  // namespace derp::client
