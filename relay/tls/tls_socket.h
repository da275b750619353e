// A TLS connection driven by OpenSSL directly on its TCP socket. OpenSSL reads the
// socket itself through a minimal BIO (no intermediate buffers: Asio's ssl::stream copies every
// byte twice per direction and keeps ~70 KiB of buffers per connection), and what it writes is
// collected per call and sent with one send(). With SSL_MODE_RELEASE_BUFFERS an idle connection
// keeps only its SSL object. Asio is used for readiness only.
//
// Two faces: non-blocking steps (handshake_step, read, write, flush) for the DERP data path, and
// Asio-style async_handshake/async_read_some/async_write_some so Beast can run HTTP and WebSocket
// over it before the upgrade.
#pragma once

#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/role.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "relay/transport/io_result.h"

namespace boost::asio::ssl {
class context;
}
typedef struct ssl_st SSL;

namespace derp::tls {

using transport::IoResult;
using transport::IoWait;

enum class TlsRole { kServer, kClient };

class TlsSocket {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;
  using next_layer_type = boost::asio::ip::tcp::socket;

  // A TLS connection on `socket` with `context`, which stays alive as long as this does. A client
  // sets its server name and verification on native_handle() before the handshake.
  TlsSocket(boost::asio::ip::tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> context,
            TlsRole role = TlsRole::kServer);
  TlsSocket(TlsSocket&& other) noexcept;
  TlsSocket& operator=(TlsSocket&&) = delete;
  ~TlsSocket();

  executor_type get_executor() { return socket_.get_executor(); }
  next_layer_type& next_layer() { return socket_; }
  const next_layer_type& next_layer() const { return socket_; }
  next_layer_type& socket() { return socket_; }
  // For setup and inspection (SNI, verification, negotiated version); I/O goes through the calls
  // below.
  SSL* native_handle() const;

  // One step of the handshake; finished when it returns no wait and no error.
  IoResult handshake_step();
  // Decrypts into `buf` every record already received (and what the socket holds), up to `len`.
  // Bytes may come with a wait, never with an error: an error after some bytes is returned by
  // the next call.
  IoResult read(std::uint8_t* buf, std::size_t len);
  // False once OpenSSL holds no unread data and the socket was found empty.
  bool more_to_read() const;
  // Encrypts all of `data` and sends it; ciphertext the socket does not take now waits for
  // flush() (wait is kWritable then).
  IoResult write(const std::uint8_t* data, std::size_t len);
  IoResult flush();
  bool output_pending() const;
  std::chrono::steady_clock::time_point output_pending_since() const;
  // Queues a close_notify (sent like any write; flush() what the socket does not take). Reading
  // stays possible until the peer closes.
  IoResult write_goodbye();
  // Closes the socket without a close_notify (as the reference server does).
  void close();

  template <class Token>
  auto async_handshake(Token&& token);
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token);
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token);

 private:
  struct Impl;  // on the heap, so the BIO's pointer to it survives a move of the TlsSocket
  Impl& io();
  std::unique_ptr<Impl> impl_;
  boost::asio::ip::tcp::socket socket_;
};

namespace detail {

// Drives one non-blocking step to completion for an Asio caller: runs it, waits for the readiness
// it asks for (after sending our own pending ciphertext: the peer may be waiting for it), runs it
// again. Handshakes and writes then wait until their ciphertext has left; reads complete at once,
// so a slow peer's reading does not hold up ours. The first invocation only posts, so the
// caller's handler never runs inside the initiating call.
template <class Step, bool kSized, bool kAwaitOutput>
struct TlsAsyncOp {
  TlsSocket& socket;
  Step step;
  enum class State { kPost, kStep, kFlush } state = State::kPost;
  std::size_t bytes = 0;

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}) {
    if (state == State::kPost) {
      state = State::kStep;
      return boost::asio::post(socket.get_executor(), std::move(self));
    }
    if (ec) return finish(self, ec);
    if (state == State::kStep) {
      IoResult r = step(socket);
      if (r.failed()) return finish(self, r.error);
      if (r.bytes == 0 && r.wait != IoWait::kNone) {
        IoResult f = socket.flush();
        if (f.failed()) return finish(self, f.error);
        return wait(self, socket.output_pending() ? IoWait::kWritable : r.wait);
      }
      bytes = r.bytes;
      state = State::kFlush;
    }
    IoResult f = socket.flush();
    if (f.failed()) return finish(self, f.error);
    if (kAwaitOutput && socket.output_pending()) return wait(self, IoWait::kWritable);
    finish(self, {});
  }

  template <class Self>
  void wait(Self& self, IoWait what) {
    socket.socket().async_wait(what == IoWait::kReadable ? boost::asio::ip::tcp::socket::wait_read
                                                         : boost::asio::ip::tcp::socket::wait_write,
                               std::move(self));
  }

  template <class Self>
  void finish(Self& self, boost::system::error_code ec) {
    if constexpr (kSized) {
      self.complete(ec, bytes);
    } else {
      self.complete(ec);
    }
  }
};

template <bool kSized, bool kAwaitOutput, class Token, class Step>
auto start_tls_op(TlsSocket& socket, Token&& token, Step step) {
  using Signature = std::conditional_t<kSized, void(boost::system::error_code, std::size_t),
                                       void(boost::system::error_code)>;
  return boost::asio::async_compose<Token, Signature>(
      TlsAsyncOp<Step, kSized, kAwaitOutput>{socket, step}, token, socket.socket());
}

// Like a stream's read_some/write_some, these move the first non-empty buffer only.
template <class Buffer, class Buffers>
Buffer first_nonempty(const Buffers& buffers) {
  for (Buffer b : boost::beast::buffers_range_ref(buffers)) {
    if (b.size() > 0) return b;
  }
  return {};
}

}  // namespace detail

template <class Token>
auto TlsSocket::async_handshake(Token&& token) {
  return detail::start_tls_op<false, true>(*this, std::forward<Token>(token),
                                           [](TlsSocket& s) { return s.handshake_step(); });
}

template <class MutableBuffers, class Token>
auto TlsSocket::async_read_some(const MutableBuffers& buffers, Token&& token) {
  auto b = detail::first_nonempty<boost::asio::mutable_buffer>(buffers);
  return detail::start_tls_op<true, false>(*this, std::forward<Token>(token), [b](TlsSocket& s) {
    return s.read(static_cast<std::uint8_t*>(b.data()), b.size());
  });
}

template <class ConstBuffers, class Token>
auto TlsSocket::async_write_some(const ConstBuffers& buffers, Token&& token) {
  auto b = detail::first_nonempty<boost::asio::const_buffer>(buffers);
  return detail::start_tls_op<true, true>(*this, std::forward<Token>(token), [b](TlsSocket& s) {
    return s.write(static_cast<const std::uint8_t*>(b.data()), b.size());
  });
}

// Beast's WebSocket teardown for this stream (found by argument-dependent lookup): the connection
// closes without a TLS close_notify.
void teardown(boost::beast::role_type role, TlsSocket& socket, boost::system::error_code& ec);

template <class Handler>
void async_teardown(boost::beast::role_type role, TlsSocket& socket, Handler&& handler) {
  boost::system::error_code ec;
  teardown(role, socket, ec);
  boost::asio::post(socket.get_executor(),
                    boost::beast::bind_front_handler(std::forward<Handler>(handler), ec));
}

}  // namespace derp::tls
