#include "relay/systemd/socket_activation.h"

#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace derp::systemd {
namespace {

namespace ip = boost::asio::ip;

InheritedSocket inspect(int fd, std::string name) {
  InheritedSocket s;
  s.fd = fd;
  s.name = std::move(name);
  const std::string which = "inherited descriptor " + std::to_string(fd);
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    throw std::runtime_error(which + " is not a socket: " + std::strerror(errno));
  }
  sockaddr_storage addr{};
  len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error(which + ": getsockname: " + std::strerror(errno));
  }
  if (addr.ss_family == AF_INET) {
    const auto& a4 = reinterpret_cast<const sockaddr_in&>(addr);
    s.address = ip::address_v4(ntohl(a4.sin_addr.s_addr));
    s.port = ntohs(a4.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(addr);
    ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), a6.sin6_addr.s6_addr, bytes.size());
    s.address = ip::address_v6(bytes, a6.sin6_scope_id);
    s.port = ntohs(a6.sin6_port);
  } else {
    throw std::runtime_error(which +
                             " is not an IPv4 or IPv6 socket (derpd.socket may list "
                             "ListenStream=/ListenDatagram= ports only)");
  }
  if (type == SOCK_STREAM) {
    // Not listening is fine (a refusing drain of the previous derpd shut it down; listen() arms
    // it again), but a connected socket is one connection of an Accept=yes unit.
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) {
      throw std::runtime_error(describe(s) +
                               " is a connection, not a listening socket (set "
                               "Accept=no in derpd.socket)");
    }
    s.kind = SocketKind::kTcpListener;
  } else if (type == SOCK_DGRAM) {
    s.kind = SocketKind::kUdp;
  } else {
    throw std::runtime_error(which + " is neither a TCP nor a UDP socket");
  }
  return s;
}

bool is_wildcard(const ip::address& a) {
  if (a.is_unspecified()) return true;
  return a.is_v6() && a.to_v6().is_v4_mapped() &&
         ip::make_address_v4(ip::v4_mapped, a.to_v6()).is_unspecified();
}

}  // namespace

std::string describe(const InheritedSocket& s) {
  std::string host = s.address.to_string();
  if (s.address.is_v6()) host = "[" + host + "]";
  std::string out = std::string(s.kind == SocketKind::kUdp ? "udp " : "tcp ") + host + ":" +
                    std::to_string(s.port) + " (fd " + std::to_string(s.fd);
  if (!s.name.empty()) out += ", " + s.name;
  return out + ")";
}

std::optional<std::size_t> find_inherited(std::span<const InheritedSocket> sockets, SocketKind kind,
                                          const std::string& host, std::uint16_t port) {
  std::optional<ip::address> wanted;
  if (!host.empty()) {
    boost::system::error_code ec;
    auto a = ip::make_address(host, ec);
    if (!ec) wanted = a;
  }
  for (std::size_t i = 0; i < sockets.size(); ++i) {
    const auto& s = sockets[i];
    if (s.fd < 0 || s.kind != kind || s.port != port) continue;
    if (wanted && !is_wildcard(*wanted) && !is_wildcard(s.address) && *wanted != s.address) {
      continue;
    }
    return i;
  }
  return std::nullopt;
}

InheritedSockets InheritedSockets::take_from_environment() {
  char** names = nullptr;
  // unset_environment=1: nothing derpd starts (an --exec hook, say) must think the sockets are its.
  int n = sd_listen_fds_with_names(1, &names);
  if (n < 0) throw std::runtime_error(std::string("LISTEN_FDS: ") + std::strerror(-n));
  std::vector<InheritedSocket> sockets;
  std::string error;
  for (int i = 0; i < n; ++i) {
    const int fd = SD_LISTEN_FDS_START + i;
    std::string name = names && names[i] && std::strcmp(names[i], "unknown") != 0 ? names[i] : "";
    try {
      if (error.empty()) sockets.push_back(inspect(fd, std::move(name)));
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
  }
  if (names) {
    for (int i = 0; i < n; ++i) std::free(names[i]);
    std::free(names);
  }
  InheritedSockets out(std::move(sockets));
  if (!error.empty()) throw std::runtime_error("socket activation: " + error);
  return out;
}

InheritedSockets::~InheritedSockets() {
  for (auto& s : sockets_) {
    if (s.fd >= 0) ::close(s.fd);
  }
}

int InheritedSockets::take(SocketKind kind, const std::string& host, std::uint16_t port,
                           const std::string& listener) {
  auto i = find_inherited(sockets_, kind, host, port);
  if (!i) {
    if (!sockets_.empty()) {
      spdlog::info("socket activation: no socket from the service manager for {}; binding it",
                   listener);
    }
    return -1;
  }
  spdlog::info("socket activation: {} uses {} from the service manager", listener,
               describe(sockets_[*i]));
  return std::exchange(sockets_[*i].fd, -1);
}

void InheritedSockets::check_all_taken(const std::string& listeners) const {
  std::string left;
  for (const auto& s : sockets_) {
    if (s.fd < 0) continue;
    if (!left.empty()) left += ", ";
    left += describe(s);
  }
  if (left.empty()) return;
  throw std::runtime_error("socket activation: the service manager passed " + left +
                           ", which matches none of derpd's listeners (" + listeners +
                           "): make derpd.socket's ListenStream=/ListenDatagram= and derpd's "
                           "flags name the same ports");
}

}  // namespace derp::systemd
