// One port served by several sockets, one per worker, in a kernel SO_REUSEPORT group: the kernel
// spreads connections (TCP) or clients (UDP, by 4-tuple hash) over them, so no socket is shared
// between threads. Used by the HTTP fronts and the STUN server.
//
// SO_REUSEPORT would also let a second derpd (any process of the same user) join the group
// silently and take part of the traffic. So a socket without it binds first and is released: it
// fails when anyone holds the port, and "address already in use" is an error again.
#pragma once

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace derp::transport {

// A step of opening the group failed: `step` names it ("bind", "SO_REUSEPORT", …).
class PortGroupError : public boost::system::system_error {
 public:
  PortGroupError(boost::system::error_code ec, std::string step)
      : boost::system::system_error(ec, step), step_(std::move(step)) {}
  const std::string& step() const { return step_; }
  bool address_in_use() const { return code() == boost::asio::error::address_in_use; }

 private:
  std::string step_;
};

namespace detail {

template <class Protocol>
constexpr bool kIsTcp = std::is_same_v<Protocol, boost::asio::ip::tcp>;

inline void check(const boost::system::error_code& ec, const char* step) {
  if (ec) throw PortGroupError(ec, step);
}

// Options every socket of the project's listeners gets before bind.
template <class Socket>
void open_for_bind(Socket& s, const typename Socket::endpoint_type& endpoint, bool reuse_port) {
  using Protocol = typename Socket::protocol_type;
  boost::system::error_code ec;
  s.open(endpoint.protocol(), ec);
  check(ec, "socket");
  // TCP only: sockets of an earlier run in TIME_WAIT must not block the port (a listener does).
  // On UDP the option would let anyone share the port, which is what the probe must detect.
  if constexpr (kIsTcp<Protocol>) {
    s.set_option(boost::asio::socket_base::reuse_address(true), ec);
    check(ec, "SO_REUSEADDR");
  }
  if (reuse_port) {
    int one = 1;
    if (::setsockopt(s.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      check({errno, boost::system::system_category()}, "SO_REUSEPORT");
    }
  }
  // "::" serves IPv4 too (as Go's listeners do).
  if (endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
    s.set_option(boost::asio::ip::v6_only(false), ec);
    check(ec, "IPV6_V6ONLY");
  }
}

}  // namespace detail

// Opens one socket per entry of `contexts` (io_contexts, or anything a Socket is constructed
// from) bound to `endpoint` in one SO_REUSEPORT group, and returns them in that order. With port
// 0 the first socket picks the port and the others join it. `configure(socket)` runs between the
// options above and bind (a buffer size, say). Throws PortGroupError; address_in_use() tells the
// port is held elsewhere.
template <class Socket, class Contexts, class Configure>
std::vector<Socket> open_port_group(typename Socket::endpoint_type endpoint, Contexts& contexts,
                                    Configure&& configure) {
  if (endpoint.port() != 0) {
    auto& first_context = *contexts.front();
    Socket probe(first_context);
    detail::open_for_bind(probe, endpoint, /*reuse_port=*/false);
    boost::system::error_code ec;
    probe.bind(endpoint, ec);
    detail::check(ec, "bind");
  }
  std::vector<Socket> sockets;
  sockets.reserve(contexts.size());
  for (auto& context : contexts) {
    Socket s(*context);
    detail::open_for_bind(s, endpoint, /*reuse_port=*/true);
    configure(s);
    boost::system::error_code ec;
    s.bind(endpoint, ec);
    detail::check(ec, "bind");
    endpoint.port(s.local_endpoint().port());
    sockets.push_back(std::move(s));
  }
  return sockets;
}

}  // namespace derp::transport
