#include "stun/stun_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>

#include "relay/transport/port_group.h"
#include "relay/transport/shared_socket.h"

namespace derp::stun {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;

constexpr int kBatch = 64;                  // datagrams per recvmmsg / sendmmsg
constexpr int kMaxBatchesPerWake = 8;       // then yield to other handlers on the io_context
constexpr std::size_t kMaxDatagram = 2048;  // larger requests are dropped as "truncated"
constexpr int kReceiveBufferBytes = 1 << 20;

std::string format_endpoint(const udp::endpoint& ep) {
  const auto addr = ep.address();
  const std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(ep.port());
}

asio::ip::address parse_host(const std::string& host) {
  if (host.empty()) return asio::ip::address_v6::any();
  std::string literal = host;
  if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']')
    literal = literal.substr(1, literal.size() - 2);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(literal, ec);
  if (ec)
    throw std::invalid_argument("stun: listen host \"" + host +
                                "\" is not an IP address; use an IP literal such as 127.0.0.1 or "
                                "::1, or an empty host for all addresses");
  return addr;
}

std::optional<Endpoint> to_endpoint(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto& sin = reinterpret_cast<const sockaddr_in&>(ss);
    std::array<std::uint8_t, 4> a;
    std::memcpy(a.data(), &sin.sin_addr, 4);
    return Endpoint::v4(a, ntohs(sin.sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(ss);
    std::array<std::uint8_t, 16> a;
    std::memcpy(a.data(), &sin6.sin6_addr, 16);
    return Endpoint::v6(a, ntohs(sin6.sin6_port));
  }
  return std::nullopt;
}

}  // namespace

class StunServer::Worker : public std::enable_shared_from_this<Worker> {
 public:
  Worker(asio::io_context& ctx, udp::socket socket, bool answer_generic,
         std::shared_ptr<std::atomic<bool>> replies_enabled)
      : ctx_(ctx),
        socket_(std::move(socket)),
        answer_generic_(answer_generic),
        replies_enabled_(std::move(replies_enabled)),
        recv_buf_(kBatch) {
    for (int i = 0; i < kBatch; ++i) {
      recv_iov_[i] = {recv_buf_[i].data(), recv_buf_[i].size()};
      recv_msgs_[i] = {};
      recv_msgs_[i].msg_hdr.msg_iov = &recv_iov_[i];
      recv_msgs_[i].msg_hdr.msg_iovlen = 1;
      recv_msgs_[i].msg_hdr.msg_name = &recv_addr_[i];
      send_msgs_[i] = {};
      send_msgs_[i].msg_hdr.msg_iov = &send_iov_[i];
      send_msgs_[i].msg_hdr.msg_iovlen = 1;
    }
  }

  void arm() {
    socket_.async_wait(udp::socket::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         if (!ec) self->on_readable();
                       });
  }

  void close() {
    boost::system::error_code ec;
    socket_.close(ec);
  }

  asio::io_context& context() { return ctx_; }

  StunCounters snapshot() const {
    StunCounters c;
    c.success = counters_.success.load(std::memory_order_relaxed);
    c.not_stun = counters_.not_stun.load(std::memory_order_relaxed);
    c.read_error = counters_.read_error.load(std::memory_order_relaxed);
    c.write_error = counters_.write_error.load(std::memory_order_relaxed);
    c.ipv4 = counters_.ipv4.load(std::memory_order_relaxed);
    c.ipv6 = counters_.ipv6.load(std::memory_order_relaxed);
    c.answered_tailscale = counters_.answered_tailscale.load(std::memory_order_relaxed);
    c.answered_generic = counters_.answered_generic.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < c.dropped.size(); ++i)
      c.dropped[i] = counters_.dropped[i].load(std::memory_order_relaxed);
    return c;
  }

 private:
  // Single writer (this worker's thread), any number of readers: plain load+store is enough.
  struct AtomicCounters {
    std::atomic<std::uint64_t> success{0}, not_stun{0}, read_error{0}, write_error{0};
    std::atomic<std::uint64_t> ipv4{0}, ipv6{0}, answered_tailscale{0}, answered_generic{0};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(DropReason::kCount)> dropped{};
  };
  static void add(std::atomic<std::uint64_t>& a, std::uint64_t n) {
    if (n) a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void publish(const StunCounters& d) {
    add(counters_.success, d.success);
    add(counters_.not_stun, d.not_stun);
    add(counters_.read_error, d.read_error);
    add(counters_.write_error, d.write_error);
    add(counters_.ipv4, d.ipv4);
    add(counters_.ipv6, d.ipv6);
    add(counters_.answered_tailscale, d.answered_tailscale);
    add(counters_.answered_generic, d.answered_generic);
    for (std::size_t i = 0; i < d.dropped.size(); ++i) add(counters_.dropped[i], d.dropped[i]);
  }

  // Drains the socket up to EAGAIN (Asio's reactor is edge-triggered, so a wait only fires on
  // new data), but at most kMaxBatchesPerWake batches before letting other handlers run.
  void on_readable() {
    if (!socket_.is_open()) return;
    const int fd = socket_.native_handle();
    for (int round = 0; round < kMaxBatchesPerWake; ++round) {
      for (int i = 0; i < kBatch; ++i) {
        recv_msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        recv_msgs_[i].msg_hdr.msg_flags = 0;
      }
      const int n = ::recvmmsg(fd, recv_msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        const int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) return arm();
        StunCounters d;
        d.read_error = 1;
        publish(d);
        if (!logged_read_error_) {
          logged_read_error_ = true;
          spdlog::warn(
              "stun: udp read failed: {} (counted as stun_requests{{disposition=\"{}\"}}; "
              "further errors are only counted)",
              std::strerror(err), "read_error");
        }
        // Wait for the next datagram rather than spin on a persistent error.
        return arm();
      }
      handle_batch(n);
      if (n < kBatch) return arm();
    }
    asio::post(ctx_, [self = shared_from_this()] { self->on_readable(); });
  }

  void handle_batch(int n) {
    StunCounters d;
    const bool enabled = replies_enabled_->load(std::memory_order_relaxed);
    int out = 0;
    for (int i = 0; i < n; ++i) {
      const mmsghdr& m = recv_msgs_[i];
      auto drop = [&d](DropReason r) {
        if (r != DropReason::kDraining) ++d.not_stun;
        ++d.dropped[static_cast<std::size_t>(r)];
      };
      if (m.msg_hdr.msg_flags & MSG_TRUNC) {
        drop(DropReason::kTruncated);
        continue;
      }
      const ParsedRequest req = parse_binding_request(Bytes(recv_buf_[i].data(), m.msg_len));
      if (req.kind == RequestKind::kMalformed) {
        drop(req.reason);
        continue;
      }
      if (req.kind == RequestKind::kGeneric && !answer_generic_) {
        drop(DropReason::kGenericDisabled);
        continue;
      }
      if (!enabled) {
        drop(DropReason::kDraining);
        continue;
      }
      const std::optional<Endpoint> source = to_endpoint(recv_addr_[i]);
      if (!source) {  // not AF_INET/AF_INET6: cannot happen on an IP socket
        ++d.not_stun;
        continue;
      }
      ++(source->counts_as_v4() ? d.ipv4 : d.ipv6);
      const std::size_t size = write_binding_response(req.txid, *source, send_buf_[out]);
      send_iov_[out] = {send_buf_[out].data(), size};
      send_msgs_[out].msg_hdr.msg_name = &recv_addr_[i];
      send_msgs_[out].msg_hdr.msg_namelen = m.msg_hdr.msg_namelen;
      send_kind_[out] = req.kind;
      ++out;
    }
    send_replies(out, d);
    publish(d);
  }

  void send_replies(int count, StunCounters& d) {
    const int fd = socket_.native_handle();
    int off = 0;
    while (off < count) {
      const int sent = ::sendmmsg(fd, send_msgs_.data() + off, count - off, MSG_DONTWAIT);
      if (sent < 0) {
        const int err = errno;
        if (err == EINTR) continue;
        // The message at `off` failed (unreachable, buffer full, ...): count it and go on.
        ++d.write_error;
        if (!logged_write_error_) {
          logged_write_error_ = true;
          spdlog::warn("stun: udp write failed: {} (further errors are only counted)",
                       std::strerror(err));
        }
        ++off;
        continue;
      }
      for (int j = off; j < off + sent; ++j)
        ++(send_kind_[j] == RequestKind::kTailscale ? d.answered_tailscale : d.answered_generic);
      d.success += static_cast<std::uint64_t>(sent);
      off += sent;
    }
  }

  asio::io_context& ctx_;
  udp::socket socket_;
  const bool answer_generic_;
  std::shared_ptr<std::atomic<bool>> replies_enabled_;
  AtomicCounters counters_;
  bool logged_read_error_ = false;
  bool logged_write_error_ = false;

  std::vector<std::array<std::uint8_t, kMaxDatagram>> recv_buf_;
  std::array<iovec, kBatch> recv_iov_{};
  std::array<sockaddr_storage, kBatch> recv_addr_{};
  std::array<mmsghdr, kBatch> recv_msgs_{};
  std::array<std::array<std::uint8_t, kMaxResponseSize>, kBatch> send_buf_{};
  std::array<iovec, kBatch> send_iov_{};
  std::array<mmsghdr, kBatch> send_msgs_{};
  std::array<RequestKind, kBatch> send_kind_{};
};

StunServer::StunServer(std::vector<asio::io_context*> workers, StunConfig config)
    : contexts_(std::move(workers)),
      config_(std::move(config)),
      replies_enabled_(std::make_shared<std::atomic<bool>>(true)) {
  if (contexts_.empty()) throw std::invalid_argument("stun: server needs at least one worker");
}

StunServer::~StunServer() {
  stop();
  if (config_.inherited_fd >= 0) ::close(config_.inherited_fd);  // never started
}

void StunServer::start() {
  if (started_) throw std::logic_error("stun: StunServer::start() called twice");
  started_ = true;
  const udp::endpoint requested(parse_host(config_.host), config_.port);

  // Absorb bursts (a whole region's clients probing at once) between wake-ups. The kernel caps
  // this at net.core.rmem_max; failing to raise it is not an error.
  auto size_buffer = [](udp::socket& s) {
    boost::system::error_code ignored;
    s.set_option(asio::socket_base::receive_buffer_size(kReceiveBufferBytes), ignored);
  };
  std::vector<udp::socket> sockets;
  if (config_.inherited_fd >= 0) {
    // The service manager's socket outlives this process: datagrams that arrive while derpd
    // restarts wait in its queue. Every worker reads it through a duplicate.
    const int fd = std::exchange(config_.inherited_fd, -1);
    try {
      sockets = transport::share_socket<udp::socket>(fd, contexts_);
    } catch (const boost::system::system_error& e) {
      ::close(fd);
      throw std::system_error(e.code().value(), std::system_category(),
                              "stun: cannot use the udp socket from the service manager");
    }
    ::close(fd);
    size_buffer(sockets.front());
  }
  // Else one socket per worker in one SO_REUSEPORT group, after a plain bind proves nobody else
  // has the port (relay/transport/port_group.h).
  try {
    if (sockets.empty()) {
      sockets = transport::open_port_group<udp::socket>(requested, contexts_, size_buffer);
    }
  } catch (const transport::PortGroupError& e) {
    throw std::system_error(e.code().value(), std::system_category(),
                            "stun: cannot bind udp " + format_endpoint(requested) +
                                (e.step() == "bind" ? "" : " (" + e.step() + ")"));
  }
  const std::uint16_t port = sockets.front().local_endpoint().port();
  const udp::endpoint ep(requested.address(), port);
  std::vector<std::shared_ptr<Worker>> workers;
  for (std::size_t i = 0; i < sockets.size(); ++i) {
    boost::system::error_code ec;
    sockets[i].non_blocking(true, ec);
    if (ec) throw std::system_error(ec.value(), std::system_category(), "stun: non-blocking");
    workers.push_back(std::make_shared<Worker>(*contexts_[i], std::move(sockets[i]),
                                               config_.answer_generic, replies_enabled_));
  }
  workers_ = std::move(workers);
  port_ = port;
  for (auto& w : workers_) asio::post(w->context(), [w] { w->arm(); });
  spdlog::info("stun: listening on udp {} with {} worker socket(s); plain RFC 5389 clients {}",
               format_endpoint(ep), workers_.size(),
               config_.answer_generic ? "answered" : "ignored (answer_generic=false)");
}

void StunServer::stop() {
  if (stopped_ || !started_) return;
  stopped_ = true;
  for (auto& w : workers_) {
    asio::io_context& ctx = w->context();
    if (ctx.get_executor().running_in_this_thread() || ctx.stopped()) {
      w->close();
      continue;
    }
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    asio::post(ctx, [w, done] {
      w->close();
      done->set_value();
    });
    // Never hang a shutdown: if nobody runs this io_context, the socket closes when it runs
    // again or is destroyed.
    if (future.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
      spdlog::error(
          "stun: a worker did not close its socket within 5 s; is its io_context running?");
  }
}

void StunServer::set_replies_enabled(bool enabled) {
  replies_enabled_->store(enabled, std::memory_order_relaxed);
}

bool StunServer::replies_enabled() const {
  return replies_enabled_->load(std::memory_order_relaxed);
}

std::uint16_t StunServer::local_port() const {
  return port_;
}

StunCounters StunServer::counters() const {
  StunCounters sum;
  for (const auto& w : workers_) sum += w->snapshot();
  return sum;
}

std::string StunServer::prometheus_text() const {
  return to_prometheus(counters());
}

nlohmann::json StunServer::expvar() const {
  return to_expvar(counters());
}

}  // namespace derp::stun
