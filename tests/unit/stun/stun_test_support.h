// Helpers for the STUN server tests: worker threads with io_contexts, and a loopback UDP client
// that waits on a receive timeout, never on a sleep.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "stun/binding_codec.h"

namespace derp::stun::testing {

// N io_contexts, each run by its own thread, as the node's workers are.
class WorkerThreads {
 public:
  explicit WorkerThreads(int n) {
    for (int i = 0; i < n; ++i) {
      contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
      guards_.emplace_back(contexts_.back()->get_executor());
    }
    for (auto& ctx : contexts_) threads_.emplace_back([c = ctx.get()] { c->run(); });
  }
  ~WorkerThreads() {
    guards_.clear();
    for (auto& ctx : contexts_) ctx->stop();
    for (auto& t : threads_) t.join();
  }
  std::vector<boost::asio::io_context*> pointers() const {
    std::vector<boost::asio::io_context*> out;
    for (const auto& c : contexts_) out.push_back(c.get());
    return out;
  }

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

// Polls `condition` until it holds or `limit` passes; for counters that a worker publishes just
// after it has sent the reply the test already received.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// A UDP socket on a loopback address that talks to the server under test.
class UdpClient {
 public:
  // server_host: "127.0.0.1" or "::1".
  UdpClient(const std::string& server_host, std::uint16_t port,
            std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
    v6_ = server_host.find(':') != std::string::npos;
    fd_ = ::socket(v6_ ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::memset(&server_, 0, sizeof server_);
    if (v6_) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&server_);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(port);
      ::inet_pton(AF_INET6, server_host.c_str(), &sin6->sin6_addr);
      server_len_ = sizeof(sockaddr_in6);
    } else {
      auto* sin = reinterpret_cast<sockaddr_in*>(&server_);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(port);
      ::inet_pton(AF_INET, server_host.c_str(), &sin->sin_addr);
      server_len_ = sizeof(sockaddr_in);
    }
    // Connect so that only the server's replies reach this socket.
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&server_), server_len_) != 0)
      throw std::runtime_error("connect() failed");
  }
  ~UdpClient() { ::close(fd_); }
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  void send(Bytes datagram) {
    if (::send(fd_, datagram.data(), datagram.size(), 0) != static_cast<ssize_t>(datagram.size()))
      throw std::runtime_error(std::string("send() failed: ") + std::strerror(errno));
  }

  // The next datagram, or nothing after the receive timeout.
  std::optional<std::vector<std::uint8_t>> receive() {
    std::vector<std::uint8_t> buf(4096);
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }

  // Our own address as the server sees it.
  Endpoint local_endpoint() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    if (ss.ss_family == AF_INET6) {
      const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(ss);
      std::array<std::uint8_t, 16> a;
      std::memcpy(a.data(), &sin6.sin6_addr, 16);
      return Endpoint::v6(a, ntohs(sin6.sin6_port));
    }
    const auto& sin = reinterpret_cast<const sockaddr_in&>(ss);
    std::array<std::uint8_t, 4> a;
    std::memcpy(a.data(), &sin.sin_addr, 4);
    return Endpoint::v4(a, ntohs(sin.sin_port));
  }

 private:
  int fd_ = -1;
  bool v6_ = false;
  sockaddr_storage server_{};
  socklen_t server_len_ = 0;
};

inline TxId make_txid(std::uint8_t seed) {
  TxId t;
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return t;
}

}  // namespace derp::stun::testing
