// The outcome of one non-blocking step on a connection (read, write, flush, TLS handshake step).
// Transports never block and never wait: they say what to wait for, and the caller waits with Asio.
#pragma once

#include <boost/system/error_code.hpp>
#include <cstddef>

namespace derp::transport {

enum class IoWait { kNone, kReadable, kWritable };

struct IoResult {
  std::size_t bytes = 0;            // bytes read, or plaintext bytes accepted for writing
  IoWait wait = IoWait::kNone;      // nothing more can happen until this readiness
  boost::system::error_code error;  // set when the connection is over (eof for a clean end)

  bool failed() const { return static_cast<bool>(error); }
};

}  // namespace derp::transport
