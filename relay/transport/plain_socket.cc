#include "relay/transport/plain_socket.h"

#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <cerrno>

namespace derp::transport {

namespace asio = boost::asio;

IoResult PlainSocket::read(std::uint8_t* buf, std::size_t len) {
  IoResult r;
  for (;;) {
    ssize_t n = ::recv(socket_.native_handle(), buf, len, MSG_DONTWAIT);
    if (n > 0) {
      r.bytes = static_cast<std::size_t>(n);
      // A short read emptied the socket's queue; reading again now would only return EAGAIN.
      drained_ = r.bytes < len;
      return r;
    }
    if (n == 0) {
      r.error = asio::error::eof;
      return r;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      drained_ = true;
      r.wait = IoWait::kReadable;
      return r;
    }
    r.error.assign(errno, boost::system::system_category());
    return r;
  }
}

IoResult PlainSocket::write(const std::uint8_t* data, std::size_t len) {
  IoResult r;
  backlog_.send(socket_.native_handle(), data, len, r.error);
  if (r.failed()) return r;
  r.bytes = len;
  if (backlog_.pending()) r.wait = IoWait::kWritable;
  return r;
}

void PlainSocket::close() {
  boost::system::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace derp::transport
