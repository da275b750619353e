// A blocking loopback TCP socket with deadlines, for integration tests that must control every
// byte (hostile input, captured client bytes, HTTP endpoints), plus a minimal DERP handshake over
// it. Every read takes a timeout so a broken server fails the test instead of hanging it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "relay/protocol/box.h"
#include "relay/protocol/client_info.h"
#include "relay/protocol/frame.h"

namespace derp::testing {

class RawSocket {
 public:
  enum class Status { kOk, kClosed, kTimeout };

  // Connects to 127.0.0.1:port. `rcvbuf` > 0 sets SO_RCVBUF before connecting, so the TCP window
  // the server sees stays small (the window scale is fixed at SYN time). `source`: connect from
  // this loopback address (e.g. "127.0.0.2"), to look like another host to the server.
  explicit RawSocket(std::uint16_t port, int rcvbuf = 0, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (source) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &from.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
        ::close(fd_);
        throw std::runtime_error(std::string("bind to ") + source + " failed");
      }
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      int e = errno;
      ::close(fd_);
      throw std::runtime_error(std::string("connect to 127.0.0.1:") + std::to_string(port) +
                               " failed: " + std::strerror(e));
    }
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  int fd() const { return fd_; }
  std::uint16_t local_port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Writes everything; false if the peer has gone (EPIPE/ECONNRESET).
  bool send_all(std::span<const std::uint8_t> bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  bool send_all(std::string_view text) {
    return send_all({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  }

  // Buffers at least `n` bytes. kClosed on EOF or a connection error (reset).
  Status fill(std::size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (in_.size() < n) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Status::kTimeout;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return Status::kTimeout;
      std::uint8_t buf[65536];
      ssize_t got = ::recv(fd_, buf, sizeof(buf), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return Status::kClosed;
      in_.insert(in_.end(), buf, buf + got);
    }
    return Status::kOk;
  }

  std::vector<std::uint8_t> take(std::size_t n) {
    std::vector<std::uint8_t> out(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(n));
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(n));
    return out;
  }
  const std::vector<std::uint8_t>& buffered() const { return in_; }

  // The HTTP response head up to and including the blank line; nullopt on timeout or close.
  std::optional<std::string> read_http_head(
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::string_view seen(reinterpret_cast<const char*>(in_.data()), in_.size());
      auto end = seen.find("\r\n\r\n");
      if (end != std::string_view::npos) {
        auto bytes = take(end + 4);
        return std::string(bytes.begin(), bytes.end());
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || fill(in_.size() + 1, left) != Status::kOk) return std::nullopt;
    }
  }

  struct Frame {
    std::uint8_t type = 0;
    std::vector<std::uint8_t> payload;
  };
  // The next DERP frame; nullopt (and *status) on timeout or close.
  std::optional<Frame> read_frame(std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                  Status* status = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    Status s = fill(protocol::kFrameHeaderLen, timeout);
    if (s == Status::kOk) {
      auto h = *protocol::parse_frame_header(in_);
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      s = fill(protocol::kFrameHeaderLen + h.length, std::max(left, std::chrono::milliseconds(1)));
      if (s == Status::kOk) {
        take(protocol::kFrameHeaderLen);
        if (status) *status = s;
        return Frame{h.type, take(h.length)};
      }
    }
    if (status) *status = s;
    return std::nullopt;
  }

  // The next frame that is not a KeepAlive.
  std::optional<Frame> read_non_keepalive(
      std::chrono::milliseconds timeout = std::chrono::seconds(5), Status* status = nullptr) {
    for (;;) {
      auto f = read_frame(timeout, status);
      if (!f || f->type != static_cast<std::uint8_t>(protocol::FrameType::kKeepAlive)) return f;
    }
  }

  // Reads and discards until the server closes the connection. Returns kClosed when it did,
  // kTimeout otherwise; *discarded counts the bytes that came before the close.
  Status wait_closed(std::chrono::milliseconds timeout, std::size_t* discarded = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t total = in_.size();
    in_.clear();
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      Status s = fill(1, left);
      total += in_.size();
      in_.clear();
      if (s != Status::kOk) {
        if (discarded) *discarded = total;
        return s;
      }
    }
    if (discarded) *discarded = total;
    return Status::kTimeout;
  }

 private:
  int fd_ = -1;
  std::vector<std::uint8_t> in_;
};

inline std::string_view as_text(const std::vector<std::uint8_t>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

inline std::vector<std::uint8_t> frame_bytes(std::uint8_t type, std::span<const std::uint8_t> p) {
  std::vector<std::uint8_t> out{
      type, static_cast<std::uint8_t>(p.size() >> 24), static_cast<std::uint8_t>(p.size() >> 16),
      static_cast<std::uint8_t>(p.size() >> 8), static_cast<std::uint8_t>(p.size())};
  out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline constexpr std::string_view kRawUpgradeRequest =
    "GET /derp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n\r\n";

// Sends a raw DERP upgrade, checks the 101 and reads the ServerKey frame. Throws on failure.
inline protocol::NodePublic raw_upgrade(RawSocket& s) {
  if (!s.send_all(kRawUpgradeRequest)) throw std::runtime_error("upgrade request not sent");
  auto head = s.read_http_head();
  if (!head || !head->starts_with("HTTP/1.1 101 ")) {
    throw std::runtime_error("no 101 response: " + head.value_or("<none>"));
  }
  auto f = s.read_frame();
  if (!f || f->type != static_cast<std::uint8_t>(protocol::FrameType::kServerKey)) {
    throw std::runtime_error("no ServerKey frame after the 101");
  }
  auto key = protocol::parse_server_key(f->payload);
  if (!key) throw std::runtime_error("bad ServerKey frame");
  return key.value;
}

// A ClientInfo frame for `key`, sealed to `server`.
inline std::vector<std::uint8_t> client_info_frame(const protocol::NodePrivate& key,
                                                   const protocol::NodePublic& server,
                                                   std::string_view json) {
  auto sealed = protocol::seal_box(
      {reinterpret_cast<const std::uint8_t*>(json.data()), json.size()}, key, server);
  std::vector<std::uint8_t> out;
  protocol::append_client_info(out, key.public_key(), sealed);
  return out;
}

// Upgrade, ClientInfo, and a ServerInfo that opens. Throws on failure.
inline void raw_handshake(RawSocket& s, const protocol::NodePrivate& key) {
  auto server = raw_upgrade(s);
  auto info = client_info_frame(key, server, R"({"version":2,"CanAckPings":true})");
  if (!s.send_all(info)) throw std::runtime_error("ClientInfo not sent");
  auto f = s.read_frame();
  if (!f || f->type != static_cast<std::uint8_t>(protocol::FrameType::kServerInfo)) {
    throw std::runtime_error("no ServerInfo frame");
  }
  if (!protocol::open_box(f->payload, key, server)) {
    throw std::runtime_error("ServerInfo does not open");
  }
}

}  // namespace derp::testing
