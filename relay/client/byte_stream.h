// The byte streams a DERP client can run over: plain TCP, TLS, and WebSocket (binary messages
// carrying the DERP stream). One read and one write may be in flight at the same time.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <memory>
#include <string>

typedef struct ssl_st SSL;

namespace derp::client {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Throws boost::system::system_error on error or end of stream.
  virtual boost::asio::awaitable<std::size_t> read_some(boost::asio::mutable_buffer b) = 0;
  virtual boost::asio::awaitable<void> write_all(boost::asio::const_buffer b) = 0;
  virtual void close() = 0;
  virtual SSL* ssl() { return nullptr; }
  virtual boost::asio::ip::tcp::socket& socket() = 0;
};

}  // namespace derp::client
