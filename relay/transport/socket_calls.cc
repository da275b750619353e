#include "relay/transport/socket_calls.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <cerrno>

namespace derp::transport {

IoResult recv_nonblocking(int fd, std::uint8_t* buf, std::size_t len, bool& drained) {
  IoResult r;
  for (;;) {
    ssize_t n = ::recv(fd, buf, len, MSG_DONTWAIT);
    if (n > 0) {
      r.bytes = static_cast<std::size_t>(n);
      // A short read emptied the socket's queue; reading again now would only return EAGAIN.
      drained = r.bytes < len;
      return r;
    }
    if (n == 0) {
      r.error = boost::asio::error::eof;
      return r;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      drained = true;
      r.wait = IoWait::kReadable;
      return r;
    }
    r.error.assign(errno, boost::system::system_category());
    return r;
  }
}

std::size_t send_nonblocking(int fd, const std::uint8_t* data, std::size_t len,
                             boost::system::error_code& error) {
  for (;;) {
    ssize_t n = ::send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    error.assign(errno, boost::system::system_category());
    return 0;
  }
}

void set_tcp_options(boost::asio::ip::tcp::socket& socket, std::chrono::seconds keepalive_idle,
                     std::chrono::milliseconds user_timeout) {
  boost::system::error_code ignored;
  socket.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  const int fd = socket.native_handle();
  if (keepalive_idle.count() > 0) {
    socket.set_option(boost::asio::socket_base::keep_alive(true), ignored);
    int idle = static_cast<int>(keepalive_idle.count()), interval = 15, count = 9;
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
  }
  if (user_timeout.count() > 0) {
    unsigned timeout = static_cast<unsigned>(user_timeout.count());
    ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof(timeout));
  }
}

void close_socket(boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.shutdown(boost::asio::socket_base::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace derp::transport
