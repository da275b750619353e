// A DERP session on a TCP or TLS socket (after the upgrade). It waits for readiness instead of
// keeping a read posted, reads into the worker's scratch buffer and assembles writes in the
// worker's scratch vector, so an idle connection owns no I/O buffer: only what the kernel refused
// to take is kept (the transport's backlog).
//
// Transport is transport::PlainSocket or tls::TlsSocket: non-blocking read/write/flush steps that
// say which readiness to wait for.
#pragma once

#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <memory>
#include <string_view>
#include <utility>

#include "relay/http/input_pause.h"
#include "relay/limits/connection_limits.h"
#include "relay/server/client_session.h"
#include "relay/server/server.h"
#include "relay/server/worker.h"
#include "relay/transport/io_result.h"
#include "relay/transport/read_watch.h"
#include "relay/transport/socket_handover.h"

namespace derp::http {

// One read per connection per turn of the event loop, of at most this much: ~13 packets of 1,200
// bytes, well under a receiver's 32-packet queue. Larger reads (64 KiB was tried) let one sender
// overrun its receiver's queue before the receiver's writer gets a turn, and under unlimited load
// the relay then spends its time reading packets only to drop them (delivered 262k pkt/s instead
// of 855k; tests/bench/README.md).
inline constexpr std::size_t kReadChunkBytes = 16 * 1024;
inline constexpr int kWriteBatchesPerTurn = 4;

template <class Transport>
class SocketConnection : public server::SessionTransport,
                         public std::enable_shared_from_this<SocketConnection<Transport>> {
 public:
  SocketConnection(server::Server& server, server::Worker& worker, Transport transport,
                   server::ConnectionInfo info, limits::ConnectionSlot slot = {})
      : server_(server),
        worker_(&worker),
        transport_(std::move(transport)),
        session_(server, worker, *this, std::move(info)),
        slot_(std::move(slot)) {}

  // `prefix` is written before the ServerKey frame; `leftover` holds bytes the HTTP parser read
  // past the request (a fast-start client's ClientInfo).
  void start(std::string_view prefix, boost::asio::const_buffer leftover) {
    session_.start(prefix);
    if (leftover.size() > 0 &&
        !session_.on_bytes({static_cast<const std::uint8_t*>(leftover.data()), leftover.size()})) {
      return finish();
    }
    // Armed once for the connection's life: waiting for input then costs nothing
    // (relay/transport/read_watch.h). Read at once too: TLS may already hold records that arrived
    // with the request.
    watch();
    schedule_read();
  }

  void wake_writer() override {
    if (write_scheduled_ || waiting_writable_ || closed_) return;
    write_scheduled_ = true;
    // Deferred so that everything queued during this turn of the event loop goes in one write.
    boost::asio::post(transport_.socket().get_executor(), while_here([](SocketConnection& c) {
                        c.write_scheduled_ = false;
                        c.do_write();
                      }));
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    transport_.close();  // pending waits complete with operation_aborted
    input_pause_.cancel();
  }

  void input_limit_changed() override {
    if (input_pause_.paused()) pause_input(session_.input_pause());
  }

  bool write_stalled(std::chrono::steady_clock::time_point now,
                     std::chrono::milliseconds timeout) const override {
    return transport_.output_pending() && now - transport_.output_pending_since() > timeout;
  }

  void end_output_after_flush() override {
    if (closed_ || ending_output_) return;
    ending_output_ = true;
    if (!write_scheduled_ && !waiting_writable_) do_write();
  }

 private:
  using tcp = boost::asio::ip::tcp;

  // Wraps every completion handler of this connection. Once the connection has moved to another
  // worker (move_home), what it left queued on the old one (the read watch that the socket's
  // release cancelled, a posted read or write) must not touch it: the new worker restarts reading
  // and writing itself (arrive). The epoch is atomic because such a leftover reads it on the old
  // worker's thread while the new one may be moving the connection again.
  template <class Fn>
  auto while_here(Fn fn) {
    return [self = this->shared_from_this(), epoch = epoch_.load(std::memory_order_relaxed),
            fn = std::move(fn)](auto... args) {
      if (self->epoch_.load(std::memory_order_relaxed) != epoch) return;
      fn(*self, args...);
    };
  }

  // Announces every readiness edge until the socket closes or leaves this worker.
  struct ReadWatcher {
    std::shared_ptr<SocketConnection> c;
    std::uint32_t epoch;
    void readable() {
      // A pause ends in a read of its own.
      if (!c->input_pause_.paused()) c->schedule_read();
    }
    void ended() {
      if (c->epoch_.load(std::memory_order_relaxed) != epoch) return;  // released by a move
      c->on_readable(boost::asio::error::operation_aborted);
    }
  };
  void watch() {
    transport::watch_readable(
        transport_.socket(),
        ReadWatcher{this->shared_from_this(), epoch_.load(std::memory_order_relaxed)});
  }
  // One read at a time is queued, however many edges or reasons there are to read.
  void schedule_read() {
    if (read_scheduled_ || closed_) return;
    read_scheduled_ = true;
    boost::asio::post(transport_.socket().get_executor(), while_here([](SocketConnection& c) {
                        c.read_scheduled_ = false;
                        c.on_readable({});
                      }));
  }

  void on_readable(boost::system::error_code ec) {
    if (ec || closed_) return finish();
    auto scratch = worker_->read_scratch().first(kReadChunkBytes);
    transport::IoResult r = transport_.read(scratch.data(), scratch.size());
    if (r.bytes > 0 && !session_.on_bytes({scratch.data(), r.bytes})) return finish();
    if (transport_.output_pending()) wake_writer();  // TLS answered something (KeyUpdate)
    if (r.failed()) return finish();
    if (auto pause = session_.input_pause(); pause.count() > 0) [[unlikely]] {
      return pause_input(pause);
    }
    if (move_home()) return;
    // Drained: the watch announces the next bytes.
    if (r.wait == transport::IoWait::kReadable) return;
    // A short read usually means the socket is empty, and trusting it saves a system call per
    // read. But a FIN that came in with the last bytes raises no edge of its own, so a leaving
    // session, which waits for exactly that FIN, reads on until the socket says it is empty.
    if (!transport_.more_to_read() && !ending_output_) return;
    // Still more to read: let the worker's other connections (and writers) have a turn first.
    schedule_read();
  }

  // Moves the connection to the worker its session asked for (relay/server/worker_packing.h).
  // Called at the end of a read or a write, on the current worker's thread. Not while input is
  // paused for a receive limit or the output is ending. What the session has queued and what the
  // socket has not yet taken go with it; a busy receiver whose socket is often full must be able
  // to move too (under overload, waiting for a moment without unsent bytes kept such receivers on
  // their first worker).
  bool move_home() {
    auto to = session_.move_wanted();
    if (!to) [[likely]]
      return false;
    server::Worker& there = server_.worker(*to);
    if (input_pause_.paused() || ending_output_ || closed_ || there.stop_requested()) {
      return false;
    }
    // Before release() cancels the read watch: its end must not be taken for the socket's.
    epoch_.fetch_add(1, std::memory_order_relaxed);
    auto socket = std::make_shared<transport::SocketInTransit>(
        transport::SocketInTransit::take(transport_.socket()));
    // A read, a write or a wait for room in the socket left here is dropped (while_here); the new
    // worker reads and writes instead, unsent bytes included.
    read_scheduled_ = false;
    write_scheduled_ = false;
    waiting_writable_ = false;
    session_.depart(there);
    worker_ = &there;
    there.post(
        server::RunOnWorker{[self = this->shared_from_this(), socket] { self->arrive(*socket); }});
    return true;
  }

  void arrive(transport::SocketInTransit& socket) {
    socket.put(transport_.socket(), worker_->io());
    session_.arrive();
    // A socket that could not be handed over (or a worker already closing everything) ends the
    // connection here, as any broken one.
    if (!transport_.socket().is_open() || worker_->stopping()) return finish();
    watch();
    if (session_.has_output() || transport_.output_pending()) wake_writer();
    on_readable({});  // what arrived meanwhile, or TLS records already buffered
  }

  // Over the client's receive limit (relay/http/input_pause.h).
  void pause_input(std::chrono::nanoseconds pause) {
    input_pause_.start(
        transport_.socket().get_executor(), pause,
        while_here([](SocketConnection& c, boost::system::error_code ec) { c.on_readable(ec); }));
  }

  void do_write() {
    if (closed_) return;
    if (transport_.output_pending()) {
      transport::IoResult r = transport_.flush();
      if (r.failed()) return write_failed(r.error);
      if (transport_.output_pending()) return move_or_wait_writable();
    }
    auto& batch = worker_->write_scratch();
    for (int i = 0; i < kWriteBatchesPerTurn && session_.has_output(); ++i) {
      batch.clear();
      session_.take_output(batch, server::kWriteBatchBytes);
      transport::IoResult r = transport_.write(batch.data(), batch.size());
      if (r.failed()) return write_failed(r.error);
      // Transports take a whole batch or fail; anything else would lose frames silently.
      if (r.bytes != batch.size()) return write_failed(boost::asio::error::message_size);
      if (transport_.output_pending()) return move_or_wait_writable();
    }
    if (ending_output_ && !output_ended_ && !session_.has_output()) return end_output();
    // A client that only receives never reads after its handshake: it moves after a write.
    if (move_home()) return;
    if (session_.has_output()) wake_writer();
  }

  // The socket is full: the new worker waits for room instead, if the connection moves now.
  void move_or_wait_writable() {
    if (!move_home()) wait_writable();
  }

  // Everything queued is written: say goodbye (TLS close_notify), then FIN once the kernel has
  // it all. Reading goes on until the client closes its side.
  void end_output() {
    if (!goodbye_written_) {
      goodbye_written_ = true;
      transport::IoResult r = transport_.write_goodbye();
      if (r.failed()) return write_failed(r.error);
      if (transport_.output_pending()) return wait_writable();
    }
    output_ended_ = true;
    boost::system::error_code ignored;
    transport_.socket().shutdown(boost::asio::socket_base::shutdown_send, ignored);
    // The client's FIN may already be here, unseen behind a short read (on_readable). A paused
    // input reads when its pause ends.
    if (!input_pause_.paused()) schedule_read();
  }

  void wait_writable() {
    waiting_writable_ = true;
    transport_.socket().async_wait(
        tcp::socket::wait_write, while_here([](SocketConnection& c, boost::system::error_code ec) {
          c.waiting_writable_ = false;
          if (ec || c.closed_) return;
          c.do_write();
        }));
  }

  void write_failed(const boost::system::error_code& ec) {
    session_.close("write failed: " + ec.message());
  }

  void finish() {
    close();
    if (finished_) return;
    finished_ = true;
    session_.shutdown();
  }

  server::Server& server_;
  server::Worker* worker_;               // the worker the connection lives on (it moves: move_home)
  std::atomic<std::uint32_t> epoch_{0};  // moves so far; see while_here()
  Transport transport_;
  server::ClientSession session_;
  limits::ConnectionSlot slot_;  // this connection's place under --max-connections*
  InputPause input_pause_;
  bool write_scheduled_ = false;
  bool waiting_writable_ = false;
  bool closed_ = false;
  bool finished_ = false;
  bool ending_output_ = false;  // the session is leaving: end the output once flushed
  bool goodbye_written_ = false;
  bool output_ended_ = false;
  bool read_scheduled_ = false;  // schedule_read() posted an on_readable not yet run
};

}  // namespace derp::http
