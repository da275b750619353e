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
  // Says goodbye in the transport's own terms before a protocol-error close (nothing for TCP).
  template <class Handler>
  static void send_protocol_error(Stream&, Handler&& h) {
    h();
  }
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
  // Writes a Close frame with status 1003 (unsupported data) straight to the layer below: the
  // connection closes right after, so Beast's closing handshake is not waited for.
  template <class Handler>
  static void send_protocol_error(Ws& s, Handler&& h) {
    static constexpr std::uint8_t kClose1003[] = {0x88, 0x02, 0x03, 0xeb};
    boost::asio::async_write(
        s.next_layer(), boost::asio::buffer(kClose1003),
        [h = std::forward<Handler>(h)](boost::system::error_code, std::size_t) mutable { h(); });
  }
};

}  // namespace derp::http
