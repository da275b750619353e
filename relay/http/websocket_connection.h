// A DERP session carried in WebSocket binary messages (protocol §1.4): reads feed the
// ClientSession, and its output is written in batches (everything queued since the last write goes
// out in one message). Browser-based clients use this; native clients take the SocketConnection
// path.
#pragma once

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "relay/http/input_pause.h"
#include "relay/limits/connection_limits.h"
#include "relay/server/client_session.h"
#include "relay/server/worker.h"
#include "relay/transport/socket_calls.h"

namespace derp::http {

// Read buffer per connection; large enough for a 64 KiB packet to arrive in a few reads.
inline constexpr std::size_t kWebSocketReadBufferSize = 16 * 1024;
// Tailscale's client (and derper) read WebSocket messages with a 32,768-byte limit and drop the
// connection on a larger one. A write batch is therefore sent as several messages; DERP frames
// may span messages (message boundaries carry no meaning, protocol §1.4).
inline constexpr std::size_t kMaxWebSocketMessageBytes = 32 * 1024;

// Next is the layer under the WebSocket: a TCP socket or a tls::TlsSocket.
template <class Next>
class WebSocketConnection : public server::SessionTransport,
                            public std::enable_shared_from_this<WebSocketConnection<Next>> {
 public:
  using Stream = boost::beast::websocket::stream<Next>;

  WebSocketConnection(server::Server& server, server::Worker& worker, Stream stream,
                      server::ConnectionInfo info, limits::ConnectionSlot slot = {})
      : stream_(std::move(stream)),
        session_(server, worker, *this, std::move(info)),
        slot_(std::move(slot)) {}

  // `prefix` is written before the ServerKey frame; `leftover` holds bytes the HTTP parser read
  // past the request (a fast-start client's ClientInfo).
  void start(std::string_view prefix, boost::asio::const_buffer leftover) {
    session_.start(prefix);
    if (leftover.size() > 0 &&
        !session_.on_bytes({static_cast<const std::uint8_t*>(leftover.data()), leftover.size()})) {
      close();
      finish();
      return;
    }
    read_buf_ = std::make_unique<std::uint8_t[]>(kWebSocketReadBufferSize);
    do_read();
  }

  void wake_writer() override {
    if (writing_ || write_scheduled_ || closed_) return;
    write_scheduled_ = true;
    // Deferred so that everything queued during this turn of the event loop goes in one write.
    boost::asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->write_scheduled_ = false;
      self->do_write();
    });
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    close_socket();
    input_pause_.cancel();
  }

  void input_limit_changed() override {
    if (input_pause_.paused()) pause_input(session_.input_pause());
  }

  bool write_stalled(std::chrono::steady_clock::time_point now,
                     std::chrono::milliseconds timeout) const override {
    return writing_ && now - write_started_ > timeout;
  }

  void end_output_after_flush() override {
    if (closed_ || ending_output_) return;
    ending_output_ = true;
    if (!write_scheduled_) do_write();
  }

 private:
  void do_read() {
    stream_.async_read_some(
        boost::asio::buffer(read_buf_.get(), kWebSocketReadBufferSize),
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (ec || self->closed_) return self->finish();
          // DERP travels only in binary messages; text is a protocol error (close 1003).
          if (self->stream_.got_text()) {
            return self->close_for_protocol_error("text WebSocket message");
          }
          if (!self->session_.on_bytes({self->read_buf_.get(), n})) {
            // Flush what the session queued (nothing for protocol errors) and close.
            self->close();
            return self->finish();
          }
          if (auto pause = self->session_.input_pause(); pause.count() > 0) [[unlikely]] {
            return self->pause_input(pause);
          }
          self->do_read();
        });
  }

  // Over the client's receive limit (relay/http/input_pause.h).
  void pause_input(std::chrono::nanoseconds pause) {
    input_pause_.start(stream_.get_executor(), pause,
                       [self = this->shared_from_this()](boost::system::error_code ec) {
                         if (ec || self->closed_) return self->finish();
                         self->do_read();
                       });
  }

  void do_write() {
    if (writing_ || closed_ || protocol_error_) return;
    if (!session_.has_output()) {
      if (ending_output_ && !output_ended_) end_output();
      return;
    }
    write_buf_.clear();
    session_.take_output(write_buf_, server::kWriteBatchBytes);
    write_offset_ = 0;
    write_next_message();
  }

  void write_next_message() {
    const std::size_t n = std::min(kMaxWebSocketMessageBytes, write_buf_.size() - write_offset_);
    writing_ = true;
    write_started_ = std::chrono::steady_clock::now();
    stream_.async_write(
        boost::asio::buffer(write_buf_.data() + write_offset_, n),
        [self = this->shared_from_this(), n](boost::system::error_code ec, std::size_t) {
          self->writing_ = false;
          if (const char* why = std::exchange(self->protocol_error_, nullptr)) {
            return self->close_for_protocol_error(why);
          }
          if (ec) {
            self->session_.close("write failed: " + ec.message());
            return;
          }
          self->write_offset_ += n;
          if (self->write_offset_ < self->write_buf_.size()) return self->write_next_message();
          if (self->write_buf_.capacity() > server::kWriteBatchBytes * 2) {
            std::vector<std::uint8_t>().swap(self->write_buf_);
          }
          if (self->session_.has_output() || self->ending_output_) {
            self->do_write();
          } else {
            // Idle connections hold no write buffer.
            std::vector<std::uint8_t>().swap(self->write_buf_);
          }
        });
  }

  // The session is leaving and everything queued is written: a Close 1001 (going away), then FIN.
  // Reading goes on, relaying the client's last packets, until the client closes its side.
  void end_output() {
    output_ended_ = true;
    writing_ = true;
    write_started_ = std::chrono::steady_clock::now();
    static constexpr std::uint8_t kClose1001[] = {0x88, 0x02, 0x03, 0xe9};
    boost::asio::async_write(
        stream_.next_layer(), boost::asio::buffer(kClose1001),
        [self = this->shared_from_this()](boost::system::error_code, std::size_t) {
          self->writing_ = false;
          boost::system::error_code ignored;
          boost::beast::get_lowest_layer(self->stream_)
              .shutdown(boost::asio::socket_base::shutdown_send, ignored);
        });
  }

  void close_socket() { transport::close_socket(boost::beast::get_lowest_layer(stream_)); }

  // Tells the peer why with a WebSocket close 1003 (unsupported data), then closes. A write in
  // flight finishes first (its completion comes back here). The Close frame goes straight to the
  // layer below: the connection closes right after, so Beast's closing handshake is not awaited.
  void close_for_protocol_error(const char* why) {
    if (closed_) {
      session_.close(why);
      return finish();
    }
    if (writing_) {
      protocol_error_ = why;
      return;
    }
    closed_ = true;
    static constexpr std::uint8_t kClose1003[] = {0x88, 0x02, 0x03, 0xeb};
    boost::asio::async_write(
        stream_.next_layer(), boost::asio::buffer(kClose1003),
        [self = this->shared_from_this(), why](boost::system::error_code, std::size_t) {
          self->session_.close(why);
          self->linger_then_finish();
        });
  }

  // Half-closes and discards what the peer still sends for up to 2 s before closing: closing a
  // socket with unread input sends a reset, which can destroy the goodbye still in flight.
  void linger_then_finish() {
    auto& socket = boost::beast::get_lowest_layer(stream_);
    boost::system::error_code ignored;
    socket.shutdown(boost::asio::socket_base::shutdown_send, ignored);
    auto timer = std::make_shared<boost::asio::steady_timer>(socket.get_executor());
    timer->expires_after(std::chrono::seconds(2));
    timer->async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->close_socket();
    });
    discard_until_eof(timer);
  }

  void discard_until_eof(std::shared_ptr<boost::asio::steady_timer> timer) {
    boost::beast::get_lowest_layer(stream_).async_read_some(
        boost::asio::buffer(read_buf_.get(), kWebSocketReadBufferSize),
        [self = this->shared_from_this(), timer](boost::system::error_code ec, std::size_t) {
          if (!ec) return self->discard_until_eof(timer);
          timer->cancel();
          self->close_socket();
          self->finish();
        });
  }

  void finish() {
    close();
    session_.shutdown();
  }

  Stream stream_;
  server::ClientSession session_;
  limits::ConnectionSlot slot_;  // this connection's place under --max-connections*
  std::unique_ptr<std::uint8_t[]> read_buf_;
  InputPause input_pause_;
  std::vector<std::uint8_t> write_buf_;
  std::size_t write_offset_ = 0;  // the next message starts here
  bool writing_ = false;
  bool ending_output_ = false;  // the session is leaving: end the output once flushed
  bool output_ended_ = false;
  bool write_scheduled_ = false;
  bool closed_ = false;
  const char* protocol_error_ = nullptr;  // waiting for the write in flight before closing
  std::chrono::steady_clock::time_point write_started_;
};

}  // namespace derp::http
