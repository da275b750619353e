#include "relay/transport/plain_socket.h"

#include "relay/transport/socket_calls.h"

namespace derp::transport {

IoResult PlainSocket::read(std::uint8_t* buf, std::size_t len) {
  return recv_nonblocking(socket_.native_handle(), buf, len, drained_);
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
  close_socket(socket_);
}

}  // namespace derp::transport
