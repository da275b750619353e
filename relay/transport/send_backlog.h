// Non-blocking sends that never lose bytes: what the kernel does not take now is kept, in order,
// until flush() gets it out. The storage exists only while something is waiting.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "relay/transport/io_result.h"

namespace derp::transport {

class SendBacklog {
 public:
  // Sends `data` behind whatever is still waiting; sets `error` if the socket failed.
  void send(int fd, const std::uint8_t* data, std::size_t len, boost::system::error_code& error);
  // Sends what is waiting. wait is kWritable while some of it remains.
  IoResult flush(int fd);
  bool pending() const { return sent_ < bytes_.size(); }
  // When the bytes waiting now started to wait: what a write deadline is measured from.
  std::chrono::steady_clock::time_point pending_since() const { return since_; }

 private:
  std::vector<std::uint8_t> bytes_;
  std::size_t sent_ = 0;
  std::chrono::steady_clock::time_point since_;
};

}  // namespace derp::transport
