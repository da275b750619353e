// Sockets handed to derpd by its service manager (systemd socket activation, sd_listen_fds(3)):
// derpd.socket owns the listening sockets, so they outlive a `systemctl restart derpd` and a
// client that dials in between waits in the kernel's queue instead of being refused.
//
// Each inherited socket is matched to one of derpd's listeners (main -a, --http-port, STUN) by
// kind and port; one that matches none is an operator error (the socket unit and derpd's flags
// disagree) and stops start-up with a message that names both.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace derp::systemd {

enum class SocketKind { kTcpListener, kUdp };

struct InheritedSocket {
  int fd = -1;
  SocketKind kind = SocketKind::kTcpListener;
  boost::asio::ip::address address;
  std::uint16_t port = 0;
  std::string name;  // FileDescriptorName= of the socket unit ("" when unnamed)
};

// "tcp [::]:443 (fd 3)" for logs and errors.
std::string describe(const InheritedSocket& s);

// Which of `sockets` serves a listener of `kind` wanted at `host`:`port` ("" host = any address):
// same kind and port, and the same address unless either side is the wildcard. Pure.
std::optional<std::size_t> find_inherited(std::span<const InheritedSocket> sockets, SocketKind kind,
                                          const std::string& host, std::uint16_t port);

// The inherited sockets of this process, taken once: later calls return nothing.
class InheritedSockets {
 public:
  // Reads LISTEN_FDS/LISTEN_PID (and LISTEN_FDNAMES) and unsets them, so that nothing derpd
  // starts inherits them. Empty when derpd was not socket-activated. Throws std::runtime_error
  // for a descriptor that is not an IPv4/IPv6 TCP listener or UDP socket.
  static InheritedSockets take_from_environment();
  explicit InheritedSockets(std::vector<InheritedSocket> sockets) : sockets_(std::move(sockets)) {}
  InheritedSockets(InheritedSockets&&) = default;
  ~InheritedSockets();  // closes the ones nobody took

  bool empty() const { return sockets_.empty(); }
  // The descriptor for a listener (now the caller's; `listener` names it in the log), or -1 when
  // none matches: then the listener binds its own socket as usual.
  int take(SocketKind kind, const std::string& host, std::uint16_t port,
           const std::string& listener);
  // Throws std::runtime_error naming every inherited socket that no listener took.
  void check_all_taken(const std::string& listeners) const;

 private:
  std::vector<InheritedSocket> sockets_;
};

}  // namespace derp::systemd
