// A DERP connection's TCP socket, driven with non-blocking send/recv: reads go straight into the
// caller's (per-worker) buffer and writes straight from the caller's buffer, so a connection that
// is not in the middle of a write holds no buffer at all.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>

#include "relay/transport/io_result.h"
#include "relay/transport/send_backlog.h"

namespace derp::transport {

class PlainSocket {
 public:
  explicit PlainSocket(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  boost::asio::ip::tcp::socket& socket() { return socket_; }

  // Reads what the socket has, up to `len` bytes.
  IoResult read(std::uint8_t* buf, std::size_t len);
  // False once a read found the socket empty (a short read or EAGAIN): wait for readability.
  bool more_to_read() const { return !drained_; }

  // Accepts all of `data` unless the connection failed; what the kernel does not take now is
  // sent by flush() (wait is kWritable then).
  IoResult write(const std::uint8_t* data, std::size_t len);
  IoResult flush() { return backlog_.flush(socket_.native_handle()); }
  bool output_pending() const { return backlog_.pending(); }
  std::chrono::steady_clock::time_point output_pending_since() const {
    return backlog_.pending_since();
  }

  // Plain TCP has no goodbye of its own: the FIN that follows is the end of the stream.
  IoResult write_goodbye() { return {}; }
  void close();

 private:
  boost::asio::ip::tcp::socket socket_;
  bool drained_ = false;
  SendBacklog backlog_;
};

}  // namespace derp::transport
