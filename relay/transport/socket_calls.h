// The socket calls every DERP transport makes, in one place: recv() and send() that never block
// (EINTR retried, EAGAIN reported, no SIGPIPE), and the close that ends a connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>

#include "relay/transport/io_result.h"

namespace derp::transport {

// Reads up to `len` bytes. bytes > 0 on data; wait is kReadable when the socket is empty; error
// is eof at the end of the stream or the errno of a failure. `drained` becomes true once this
// read shows the socket empty (EAGAIN, or a short read), false after a read that filled `buf`.
IoResult recv_nonblocking(int fd, std::uint8_t* buf, std::size_t len, bool& drained);

// Returns the bytes sent (0 when the socket is full) and sets `error` on failure.
std::size_t send_nonblocking(int fd, const std::uint8_t* data, std::size_t len,
                             boost::system::error_code& error);

// TCP_NODELAY, keepalive probes after `keepalive_idle` of silence (then every 15 s, 9 of them, as
// the reference's dialer and listener), and TCP_USER_TIMEOUT. A zero duration leaves that one at
// the OS default. Failures are ignored: these only tune a working socket.
void set_tcp_options(boost::asio::ip::tcp::socket& socket, std::chrono::seconds keepalive_idle,
                     std::chrono::milliseconds user_timeout);

// Shuts both directions down and closes; pending waits on the socket complete with
// operation_aborted.
void close_socket(boost::asio::ip::tcp::socket& socket);

}  // namespace derp::transport
