// Moves a connected TCP socket from one io_context (worker) to another: the descriptor leaves the
// first one's reactor on its thread and joins the second one's on that thread. The kernel socket,
// its queued bytes and any TLS state built on the descriptor number are untouched.
#pragma once

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <utility>

namespace derp::transport {

class SocketInTransit {
 public:
  // On the old owner's thread. The socket must have no operation pending (release() would
  // complete it with operation_aborted, which a connection reads as its end).
  static SocketInTransit take(boost::asio::ip::tcp::socket& socket) {
    SocketInTransit t;
    boost::system::error_code ec;
    t.protocol_ = socket.local_endpoint(ec).protocol();
    if (!ec) t.fd_ = socket.release(ec);
    if (ec) t.fd_ = -1;
    return t;
  }

  SocketInTransit(SocketInTransit&& other) noexcept
      : protocol_(other.protocol_), fd_(std::exchange(other.fd_, -1)) {}
  SocketInTransit& operator=(SocketInTransit&&) = delete;
  // A socket that never arrived (its new worker stopped first) is closed, not leaked.
  ~SocketInTransit() {
    if (fd_ >= 0) ::close(fd_);
  }

  // False when take() failed: the connection is already broken.
  bool valid() const { return fd_ >= 0; }

  // On the new owner's thread: `socket` (closed) becomes this descriptor on `io`.
  void put(boost::asio::ip::tcp::socket& socket, boost::asio::io_context& io) {
    boost::asio::ip::tcp::socket arrived(io);
    boost::system::error_code ec;
    arrived.assign(protocol_, fd_, ec);
    if (!ec) fd_ = -1;
    socket = std::move(arrived);  // still closed when assign failed: the connection then ends
  }

 private:
  SocketInTransit() = default;
  boost::asio::ip::tcp protocol_ = boost::asio::ip::tcp::v4();
  int fd_ = -1;
};

}  // namespace derp::transport
