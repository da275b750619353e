#include "relay/client/byte_stream_impl.h"

#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket.hpp>

namespace derp::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;

namespace {

class TcpByteStream final : public ByteStream {
 public:
  explicit TcpByteStream(tcp::socket s) : s_(std::move(s)) {}
  asio::awaitable<std::size_t> read_some(asio::mutable_buffer b) override {
    co_return co_await s_.async_read_some(b, asio::use_awaitable);
  }
  asio::awaitable<void> write_all(asio::const_buffer b) override {
    co_await asio::async_write(s_, b, asio::use_awaitable);
  }
  void close() override {
    boost::system::error_code ignored;
    s_.close(ignored);
  }
  tcp::socket& socket() override { return s_; }

 private:
  tcp::socket s_;
};

// OpenSSL on the socket (tls::TlsSocket), as the server does: no intermediate copies, which
// matters for mesh links and for a load generator sharing cores with the relay it measures.
class TlsByteStream final : public ByteStream {
 public:
  explicit TlsByteStream(tls::TlsSocket s) : s_(std::move(s)) {}
  asio::awaitable<std::size_t> read_some(asio::mutable_buffer b) override {
    co_return co_await s_.async_read_some(b, asio::use_awaitable);
  }
  asio::awaitable<void> write_all(asio::const_buffer b) override {
    co_await asio::async_write(s_, b, asio::use_awaitable);
  }
  void close() override { s_.close(); }
  SSL* ssl() override { return s_.native_handle(); }
  tcp::socket& socket() override { return s_.next_layer(); }

 private:
  tls::TlsSocket s_;
};

template <class Next>
class WsByteStream final : public ByteStream {
 public:
  explicit WsByteStream(beast::websocket::stream<Next> ws) : ws_(std::move(ws)) {}
  asio::awaitable<std::size_t> read_some(asio::mutable_buffer b) override {
    std::size_t n = co_await ws_.async_read_some(b, asio::use_awaitable);
    if (ws_.got_text()) {
      throw boost::system::system_error(asio::error::invalid_argument, "text WebSocket message");
    }
    co_return n;
  }
  asio::awaitable<void> write_all(asio::const_buffer b) override {
    co_await ws_.async_write(b, asio::use_awaitable);
  }
  void close() override {
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws_).close(ignored);
  }
  SSL* ssl() override {
    if constexpr (std::is_same_v<Next, tls::TlsSocket>) {
      return ws_.next_layer().native_handle();
    } else {
      return nullptr;
    }
  }
  tcp::socket& socket() override { return beast::get_lowest_layer(ws_); }

 private:
  beast::websocket::stream<Next> ws_;
};

template <class Next>
asio::awaitable<std::unique_ptr<ByteStream>> websocket_over(Next next,
                                                            const std::string& host_header,
                                                            const std::string& path) {
  beast::websocket::stream<Next> ws(std::move(next));
  ws.set_option(beast::websocket::stream_base::decorator([](beast::websocket::request_type& req) {
    req.set(beast::http::field::sec_websocket_protocol, "derp");
  }));
  beast::websocket::response_type res;
  co_await ws.async_handshake(res, host_header, path, asio::use_awaitable);
  if (res[beast::http::field::sec_websocket_protocol] != "derp") {
    throw std::runtime_error("WebSocket server did not accept the derp subprotocol");
  }
  ws.binary(true);
  co_return std::make_unique<WsByteStream<Next>>(std::move(ws));
}

}  // namespace

std::unique_ptr<ByteStream> make_tcp_stream(tcp::socket s) {
  return std::make_unique<TcpByteStream>(std::move(s));
}

std::unique_ptr<ByteStream> make_tls_stream(tls::TlsSocket s) {
  return std::make_unique<TlsByteStream>(std::move(s));
}

asio::awaitable<std::unique_ptr<ByteStream>> make_websocket_stream(tcp::socket s,
                                                                   const std::string& host_header,
                                                                   const std::string& path) {
  co_return co_await websocket_over(std::move(s), host_header, path);
}

asio::awaitable<std::unique_ptr<ByteStream>> make_websocket_stream(tls::TlsSocket s,
                                                                   const std::string& host_header,
                                                                   const std::string& path) {
  co_return co_await websocket_over(std::move(s), host_header, path);
}

}  // namespace derp::client
