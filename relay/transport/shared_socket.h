// One kernel socket served by every worker: each gets its own duplicate descriptor, so each
// io_context registers and closes its own handle. Used for sockets a service manager passed in
// (relay/systemd/socket_activation.h), where the SO_REUSEPORT group of port_group.h cannot be
// built because the socket already exists: the workers then take turns on one accept queue (TCP)
// or one receive queue (UDP), which costs some wake-ups but no correctness.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>

#include <boost/system/system_error.hpp>
#include <cerrno>
#include <vector>

namespace derp::transport {

// `fd`'s address family as the Socket's protocol (v4 or v6). Throws boost::system::system_error.
template <class Socket>
typename Socket::protocol_type protocol_of(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw boost::system::system_error(errno, boost::system::system_category(), "getsockname");
  }
  using Protocol = typename Socket::protocol_type;
  return addr.ss_family == AF_INET6 ? Protocol::v6() : Protocol::v4();
}

// One Socket per entry of `contexts` (io_context pointers), each on a close-on-exec duplicate of
// `fd`; `fd` itself stays the caller's. Throws boost::system::system_error.
template <class Socket, class Contexts>
std::vector<Socket> share_socket(int fd, Contexts& contexts) {
  const auto protocol = protocol_of<Socket>(fd);
  std::vector<Socket> out;
  out.reserve(contexts.size());
  for (auto& context : contexts) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) {
      throw boost::system::system_error(errno, boost::system::system_category(), "dup");
    }
    out.emplace_back(*context, protocol, copy);
  }
  return out;
}

}  // namespace derp::transport
