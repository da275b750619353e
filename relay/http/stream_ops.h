// The few operations DerpConnection needs, uniform over raw streams (TCP, TLS) and WebSocket
// streams, whose messages carry the DERP byte stream (spec §1.4).
#pragma once

#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace derp::http {

template <class Stream>
struct StreamOps {
  template <class Handler>
  static void read_some(Stream& s, boost::asio::mutable_buffer b, Handler&& h) {
    s.async_read_some(b, std::forward<Handler>(h));
  }
  template <class Handler>
  static void write(Stream& s, boost::asio::const_buffer b, Handler&& h) {
    boost::asio::async_write(s, b, std::forward<Handler>(h));
  }
  // True when the last read broke the transport's framing rules.
  static bool last_read_invalid(const Stream&) { return false; }
};

template <class Next>
struct StreamOps<boost::beast::websocket::stream<Next>> {
  using Ws = boost::beast::websocket::stream<Next>;
  template <class Handler>
  static void read_some(Ws& s, boost::asio::mutable_buffer b, Handler&& h) {
    s.async_read_some(b, std::forward<Handler>(h));
  }
  template <class Handler>
  static void write(Ws& s, boost::asio::const_buffer b, Handler&& h) {
    s.async_write(b, std::forward<Handler>(h));
  }
  // DERP travels only in binary messages; a text message is a protocol error (close 1003).
  static bool last_read_invalid(const Ws& s) { return s.got_text(); }
};

}  // namespace derp::http
