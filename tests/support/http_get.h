// A blocking HTTP/1.0 GET over loopback for tests (metrics and endpoints), with a time limit.
#pragma once

#include <cerrno>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <regex>
#include <stdexcept>
#include <string>

namespace derp::testing {

inline std::string http_get(std::uint16_t port, const std::string& path,
                            const std::string& host = "127.0.0.1") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot connect to " + host + ":" + std::to_string(port));
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[16384];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

// True when a TCP connect to 127.0.0.1:port is refused (nothing listens there).
inline bool connect_refused(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool refused =
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno == ECONNREFUSED;
  ::close(fd);
  return refused;
}

// The value of an unlabelled Prometheus metric on /debug/varz, or -1 when absent.
inline long long varz_value(std::uint16_t port, const std::string& name) {
  auto body = http_get(port, "/debug/varz");
  std::smatch m;
  std::regex re("\n" + name + " (-?[0-9]+)");
  if (std::regex_search(body, m, re)) return std::stoll(m[1]);
  return -1;
}

// A TCP port on 127.0.0.1 that was free a moment ago, for nodes that must know each other's ports
// before they start. It is drawn below the kernel's ephemeral range (32768+), so a derpd that
// another test starts on port 0 cannot be handed the same port in between.
inline std::uint16_t free_port() {
  static std::atomic<unsigned> salt{static_cast<unsigned>(::getpid()) * 7919u};
  for (int attempt = 0; attempt < 200; ++attempt) {
    auto port = static_cast<std::uint16_t>(20000 + (salt.fetch_add(7717) % 12000));
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (ok) return port;
  }
  throw std::runtime_error("no free TCP port in 20000-31999");
}

}  // namespace derp::testing
