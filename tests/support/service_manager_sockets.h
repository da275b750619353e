// The service manager's side of socket activation (sd_listen_fds(3)), for tests on machines
// without systemd as PID 1: the test binds the sockets as derpd.socket would and keeps them for
// the whole test, as systemd does across restarts of the service; every derpd it starts gets them
// as descriptors 3, 4, … with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/http_get.h"

namespace derp::testing {

class ServiceManagerSockets {
 public:
  ServiceManagerSockets() = default;
  ServiceManagerSockets(const ServiceManagerSockets&) = delete;
  ServiceManagerSockets& operator=(const ServiceManagerSockets&) = delete;
  ~ServiceManagerSockets() {
    for (int fd : fds_) ::close(fd);
  }

  // ListenStream=127.0.0.1:PORT. The port is named, as in a real unit: a socket bound to port 0
  // would lose its port when a refusing drain shuts it down.
  std::uint16_t add_tcp_listener(const std::string& name) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      std::uint16_t port = free_port();
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in addr = loopback(port);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
          ::listen(fd, SOMAXCONN) == 0) {
        add(fd, name);
        return port;
      }
      ::close(fd);
    }
    throw std::runtime_error("no free TCP port for a listening socket");
  }

  // ListenDatagram=127.0.0.1:PORT.
  std::uint16_t add_udp(const std::string& name) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback(0);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      throw std::runtime_error(std::string("bind udp: ") + std::strerror(errno));
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    add(fd, name);
    return ntohs(addr.sin_port);
  }

  // For DerpdProcess: runs in the forked child, before exec.
  std::function<void()> pass_to_child() const {
    return [fds = fds_, names = names_, count = std::to_string(fds_.size())] {
      // First above every target number, then into place from 3 on (dup2 clears close-on-exec).
      std::vector<int> high;
      for (int fd : fds) high.push_back(::fcntl(fd, F_DUPFD, 64));
      for (std::size_t i = 0; i < high.size(); ++i) {
        ::dup2(high[i], 3 + static_cast<int>(i));
        ::close(high[i]);
      }
      ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
      ::setenv("LISTEN_FDS", count.c_str(), 1);
      ::setenv("LISTEN_FDNAMES", names.c_str(), 1);
    };
  }

 private:
  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    return addr;
  }
  void add(int fd, const std::string& name) {
    fds_.push_back(fd);
    names_ += (names_.empty() ? "" : ":") + name;
  }

  std::vector<int> fds_;
  std::string names_;
};

}  // namespace derp::testing
