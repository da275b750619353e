// Readiness to read, announced for as long as a socket is open, armed once.
//
// Every `async_wait` costs Boost 1.74's epoll reactor an `epoll_ctl(EPOLL_CTL_MOD)`: a wait may
// not be tried speculatively, so `epoll_reactor::start_op` re-arms the descriptor each time. A
// DERP connection waits once per read, so with one write per packet that was 0.24 (one worker)
// to 1.1 (one packet per wake-up) system calls per relayed packet (docs/design-notes.md). The
// descriptor is registered edge-triggered for its whole life anyway; what is missing is an
// operation that stays queued on it. This is one: its `perform` step, which the reactor runs on
// every readiness edge, calls `readable()` and reports "not done", so the operation stays at the
// head of the descriptor's read queue and nothing is ever re-armed. Closing the socket cancels
// it: `ended()` is called once, as a completion.
//
// This uses the reactor's own interface (boost/asio/detail), which Boost does not promise to keep:
// the build pins Debian 12's Boost 1.74, and tests/unit/transport/read_watch_test.cc checks the
// behaviour this relies on. Only for sockets on which nothing else waits to read.
#pragma once

// io_context first: the reactor's inline members need the scheduler it defines.
#include <boost/asio/io_context.hpp>
// clang-format off
#include <boost/asio/detail/reactor.hpp>
// clang-format on
#include <boost/asio/ip/tcp.hpp>
#include <utility>

namespace derp::transport {

namespace detail {

// The reactor's per-descriptor state of `socket`: basic_socket keeps its implementation
// protected, and a pointer to that member formed through a derived class may be applied to any
// socket.
struct SocketInternals : boost::asio::ip::tcp::socket {
  static boost::asio::detail::reactor::per_descriptor_data& reactor_data(
      boost::asio::ip::tcp::socket& socket) {
    return (socket.*&SocketInternals::impl_).get_implementation().reactor_data_;
  }
};

// Watcher: void readable() and void ended(), called on the socket's io_context thread.
// readable() runs inside the reactor with the descriptor's lock held: it may only post.
template <class Watcher>
class ReadWatchOp : public boost::asio::detail::reactor_op {
 public:
  explicit ReadWatchOp(Watcher watcher)
      : reactor_op(boost::system::error_code(), &perform_step, &complete_step),
        watcher_(std::move(watcher)) {}

 private:
  static status perform_step(reactor_op* base) {
    static_cast<ReadWatchOp*>(base)->watcher_.readable();
    return not_done;  // stays queued: the next edge comes here again
  }
  // Cancelled (the socket closed), or destroyed with its io_context (owner == nullptr).
  static void complete_step(void* owner, boost::asio::detail::scheduler_operation* base,
                            const boost::system::error_code&, std::size_t) {
    auto* op = static_cast<ReadWatchOp*>(base);
    Watcher watcher = std::move(op->watcher_);
    delete op;
    if (owner) watcher.ended();
  }

  Watcher watcher_;
};

}  // namespace detail

// Starts watching `socket` (open, on an io_context's reactor) for readability; see above.
template <class Watcher>
void watch_readable(boost::asio::ip::tcp::socket& socket, Watcher watcher) {
  auto& reactor = boost::asio::use_service<boost::asio::detail::reactor>(
      static_cast<boost::asio::io_context&>(socket.get_executor().context()));
  auto* op = new detail::ReadWatchOp<Watcher>(std::move(watcher));
  reactor.start_op(boost::asio::detail::reactor::read_op, socket.native_handle(),
                   detail::SocketInternals::reactor_data(socket), op, /*is_continuation=*/false,
                   /*allow_speculative=*/false);
}

}  // namespace derp::transport
