#include "relay/transport/send_backlog.h"

#include "relay/transport/socket_calls.h"

namespace derp::transport {

void SendBacklog::send(int fd, const std::uint8_t* data, std::size_t len,
                       boost::system::error_code& error) {
  if (len == 0) return;
  if (pending()) {
    // New bytes go behind the ones still waiting; the socket is full anyway.
    bytes_.insert(bytes_.end(), data, data + len);
    return;
  }
  std::size_t sent = send_nonblocking(fd, data, len, error);
  if (error || sent == len) return;
  bytes_.assign(data + sent, data + len);
  sent_ = 0;
  since_ = std::chrono::steady_clock::now();
}

IoResult SendBacklog::flush(int fd) {
  IoResult r;
  if (!pending()) return r;
  sent_ += send_nonblocking(fd, bytes_.data() + sent_, bytes_.size() - sent_, r.error);
  if (r.failed()) return r;
  if (pending()) {
    r.wait = IoWait::kWritable;
  } else {
    std::vector<std::uint8_t>().swap(bytes_);
    sent_ = 0;
  }
  return r;
}

}  // namespace derp::transport
