// stun-load: a STUN Binding load generator for loopback. Many UDP sockets each keep a window of
// requests in flight against 127.0.0.1:PORT (or ::1) for a fixed time; it reports replies/s and
// reply latency percentiles. --self starts an in-process StunServer with --threads workers.
//
//   stun-load --self --threads 2 --duration 5
//   stun-load --port 3478 --sockets 128 --window 8 --form generic
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "stun/binding_codec.h"
#include "stun/stun_server.h"

namespace {

using namespace derp::stun;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  bool self = false;
  int threads = 1;
  double duration_s = 5;
  int sockets = 64;
  int window = 4;
  int client_threads = 2;  // one client thread cannot saturate the server
  bool generic = false;
  std::uint64_t max_requests = 50'000'000;
};

[[noreturn]] void usage(const std::string& error) {
  std::fprintf(stderr,
               "stun-load: %s\n"
               "usage: stun-load (--self [--threads 1..16] | --port PORT [--host 127.0.0.1|::1])\n"
               "                 [--duration 0.1..60] [--sockets 1..1024] [--window 1..64]\n"
               "                 [--client-threads 1..16 (2)] [--form tailscale|generic]\n"
               "                 [--max-requests N]\n",
               error.c_str());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    auto number = [&](double lo, double hi) {
      const std::string v = value();
      char* end = nullptr;
      const double d = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end || d < lo || d > hi)
        usage(arg + " " + v + ": must be a number in [" + std::to_string(lo) + ", " +
              std::to_string(hi) + "]");
      return d;
    };
    if (arg == "--self")
      o.self = true;
    else if (arg == "--host")
      o.host = value();
    else if (arg == "--port")
      o.port = static_cast<int>(number(1, 65535));
    else if (arg == "--threads")
      o.threads = static_cast<int>(number(1, 16));
    else if (arg == "--duration")
      o.duration_s = number(0.1, 60);
    else if (arg == "--sockets")
      o.sockets = static_cast<int>(number(1, 1024));
    else if (arg == "--window")
      o.window = static_cast<int>(number(1, 64));
    else if (arg == "--client-threads")
      o.client_threads = static_cast<int>(number(1, 16));
    else if (arg == "--max-requests")
      o.max_requests = static_cast<std::uint64_t>(number(1, 1e10));
    else if (arg == "--form") {
      const std::string f = value();
      if (f != "tailscale" && f != "generic") usage("--form must be tailscale or generic");
      o.generic = f == "generic";
    } else if (arg == "-h" || arg == "--help")
      usage("help");
    else
      usage("unknown argument " + arg);
  }
  if (!o.self && o.port == 0) usage("give --port PORT, or --self to start a server in-process");
  if (o.host != "127.0.0.1" && o.host != "::1")
    usage("--host " + o.host + ": only loopback targets (127.0.0.1, ::1) are allowed");
  if (o.client_threads > o.sockets) o.client_threads = o.sockets;
  return o;
}

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
}

// Latency histogram with 1 µs buckets up to 100 ms, plus an overflow bucket.
struct Histogram {
  static constexpr std::size_t kBuckets = 100'000;
  std::vector<std::uint64_t> counts = std::vector<std::uint64_t>(kBuckets + 1, 0);
  std::uint64_t total = 0;
  void add(std::uint64_t ns) {
    ++counts[std::min<std::uint64_t>(ns / 1000, kBuckets)];
    ++total;
  }
  void merge(const Histogram& o) {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
    total += o.total;
  }
  // Upper bound of the bucket holding quantile q, in µs.
  double quantile_us(double q) const {
    if (total == 0) return 0;
    const auto want = static_cast<std::uint64_t>(q * static_cast<double>(total - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      seen += counts[i];
      if (seen >= want) return static_cast<double>(i + 1);
    }
    return static_cast<double>(kBuckets);
  }
};

struct ClientStats {
  std::uint64_t sent = 0;
  std::uint64_t replies = 0;
  std::uint64_t bad_replies = 0;
  std::uint64_t lost = 0;
  Histogram latency;
};

struct Socket {
  int fd = -1;
  std::uint32_t id = 0;
  int inflight = 0;
  std::uint64_t last_progress_ns = 0;
};

class ClientThread {
 public:
  ClientThread(const Options& o, std::uint16_t port, int first_socket, int count,
               std::atomic<std::uint64_t>& budget)
      : o_(o), budget_(budget) {
    epoll_ = ::epoll_create1(0);
    const bool v6 = o.host == "::1";
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto& s = reinterpret_cast<sockaddr_in6&>(ss);
      s.sin6_family = AF_INET6;
      s.sin6_port = htons(port);
      ::inet_pton(AF_INET6, o.host.c_str(), &s.sin6_addr);
      len = sizeof s;
    } else {
      auto& s = reinterpret_cast<sockaddr_in&>(ss);
      s.sin_family = AF_INET;
      s.sin_port = htons(port);
      ::inet_pton(AF_INET, o.host.c_str(), &s.sin_addr);
      len = sizeof s;
    }
    for (int i = 0; i < count; ++i) {
      Socket s;
      s.id = static_cast<std::uint32_t>(first_socket + i);
      s.fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
      if (s.fd < 0 || ::connect(s.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
        throw std::runtime_error(std::string("stun-load: socket/connect: ") + std::strerror(errno));
      sockets_.push_back(s);
    }
    for (std::size_t i = 0; i < sockets_.size(); ++i) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      ::epoll_ctl(epoll_, EPOLL_CTL_ADD, sockets_[i].fd, &ev);
    }
  }
  ~ClientThread() {
    for (auto& s : sockets_) ::close(s.fd);
    ::close(epoll_);
  }

  void run(std::uint64_t start_ns, std::uint64_t end_ns) {
    for (auto& s : sockets_) refill(s, start_ns);
    std::vector<epoll_event> events(256);
    std::uint64_t next_sweep = start_ns + 50'000'000;
    for (;;) {
      const std::uint64_t now = now_ns();
      if (now >= end_ns) break;
      const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 10);
      for (int i = 0; i < n; ++i) {
        Socket& s = sockets_[events[i].data.u64];
        drain(s, end_ns);
        refill(s, now_ns());
      }
      if (now >= next_sweep) {
        sweep(now_ns());
        next_sweep = now + 50'000'000;
      }
    }
  }

  const ClientStats& stats() const { return stats_; }

 private:
  void drain(Socket& s, std::uint64_t end_ns) {
    constexpr int kBatch = 64;
    std::array<std::array<std::uint8_t, 128>, kBatch> bufs;
    std::array<iovec, kBatch> iov;
    std::array<mmsghdr, kBatch> msgs{};
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {bufs[i].data(), bufs[i].size()};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
      const int n = ::recvmmsg(s.fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;
      const std::uint64_t now = now_ns();
      for (int i = 0; i < n; ++i) {
        const auto r = parse_binding_response(Bytes(bufs[i].data(), msgs[i].msg_len));
        if (!r) {
          ++stats_.bad_replies;
          continue;
        }
        std::uint64_t sent_ns;
        std::memcpy(&sent_ns, r->txid.data(), sizeof sent_ns);
        std::uint32_t id;
        std::memcpy(&id, r->txid.data() + 8, sizeof id);
        if (id != s.id || sent_ns > now) {
          ++stats_.bad_replies;
          continue;
        }
        if (s.inflight > 0) --s.inflight;
        s.last_progress_ns = now;
        if (now <= end_ns) {
          ++stats_.replies;
          stats_.latency.add(now - sent_ns);
        }
      }
      if (n < kBatch) return;
    }
  }

  void refill(Socket& s, std::uint64_t now) {
    const int want = o_.window - s.inflight;
    if (want <= 0) return;
    // Global bound on the number of requests.
    std::uint64_t left = budget_.load(std::memory_order_relaxed);
    std::uint64_t take;
    do {
      take = std::min<std::uint64_t>(left, static_cast<std::uint64_t>(want));
      if (take == 0) return;
    } while (!budget_.compare_exchange_weak(left, left - take, std::memory_order_relaxed));

    std::array<std::array<std::uint8_t, kTailscaleRequestSize>, 64> bufs;
    std::array<iovec, 64> iov;
    std::array<mmsghdr, 64> msgs{};
    for (std::uint64_t i = 0; i < take; ++i) {
      TxId txid{};
      std::memcpy(txid.data(), &now, sizeof now);
      std::memcpy(txid.data() + 8, &s.id, sizeof s.id);
      std::size_t len;
      if (o_.generic) {
        const auto req = make_generic_request(txid);
        std::copy(req.begin(), req.end(), bufs[i].begin());
        len = req.size();
      } else {
        bufs[i] = make_tailscale_request(txid);
        len = bufs[i].size();
      }
      iov[i] = {bufs[i].data(), len};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent = ::sendmmsg(s.fd, msgs.data(), static_cast<unsigned>(take), MSG_DONTWAIT);
    const int ok = std::max(sent, 0);
    stats_.sent += static_cast<std::uint64_t>(ok);
    s.inflight += ok;
    if (s.last_progress_ns == 0 || s.inflight == ok) s.last_progress_ns = now;
  }

  // A request without a reply for 500 ms is lost (loopback drops under overload); reopen the
  // window so that the socket keeps sending.
  void sweep(std::uint64_t now) {
    for (auto& s : sockets_) {
      if (s.inflight > 0 && now > s.last_progress_ns + 500'000'000) {
        stats_.lost += static_cast<std::uint64_t>(s.inflight);
        s.inflight = 0;
        refill(s, now);
      }
    }
  }

  const Options& o_;
  std::atomic<std::uint64_t>& budget_;
  int epoll_ = -1;
  std::vector<Socket> sockets_;
  ClientStats stats_;
};

// The in-process server for --self: one io_context per worker thread.
class SelfServer {
 public:
  SelfServer(const Options& o) {
    for (int i = 0; i < o.threads; ++i) {
      contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
      guards_.emplace_back(contexts_.back()->get_executor());
    }
    std::vector<boost::asio::io_context*> ptrs;
    for (auto& c : contexts_) ptrs.push_back(c.get());
    server_ = std::make_unique<StunServer>(ptrs, StunConfig{o.host, 0, true});
    server_->start();
    for (auto& c : contexts_) threads_.emplace_back([ctx = c.get()] { ctx->run(); });
  }
  ~SelfServer() {
    server_.reset();
    guards_.clear();
    for (auto& c : contexts_) c->stop();
    for (auto& t : threads_) t.join();
  }
  StunServer& server() { return *server_; }

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::unique_ptr<StunServer> server_;
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  std::unique_ptr<SelfServer> self;
  std::uint16_t port = static_cast<std::uint16_t>(o.port);
  try {
    if (o.self) {
      self = std::make_unique<SelfServer>(o);
      port = self->server().local_port();
    }
    std::atomic<std::uint64_t> budget{o.max_requests};
    std::vector<std::unique_ptr<ClientThread>> clients;
    for (int t = 0, first = 0; t < o.client_threads; ++t) {
      const int count = o.sockets / o.client_threads + (t < o.sockets % o.client_threads ? 1 : 0);
      clients.push_back(std::make_unique<ClientThread>(o, port, first, count, budget));
      first += count;
    }
    const std::uint64_t start = now_ns();
    const std::uint64_t end = start + static_cast<std::uint64_t>(o.duration_s * 1e9);
    std::vector<std::thread> threads;
    for (auto& c : clients) threads.emplace_back([&c, start, end] { c->run(start, end); });
    for (auto& t : threads) t.join();
    const double elapsed = static_cast<double>(now_ns() - start) / 1e9;

    ClientStats total;
    for (auto& c : clients) {
      total.sent += c->stats().sent;
      total.replies += c->stats().replies;
      total.bad_replies += c->stats().bad_replies;
      total.lost += c->stats().lost;
      total.latency.merge(c->stats().latency);
    }
    std::printf(
        "stun-load: target %s:%u (%s) form=%s sockets=%d window=%d client-threads=%d "
        "duration=%.1fs\n",
        o.host.c_str(), port,
        o.self ? ("in-process server, " + std::to_string(o.threads) + " worker thread(s)").c_str()
               : "external server",
        o.generic ? "generic" : "tailscale", o.sockets, o.window, o.client_threads, elapsed);
    std::printf("sent %llu  replies %llu  lost %llu  bad %llu  replies/s %.0f\n",
                static_cast<unsigned long long>(total.sent),
                static_cast<unsigned long long>(total.replies),
                static_cast<unsigned long long>(total.lost),
                static_cast<unsigned long long>(total.bad_replies),
                static_cast<double>(total.replies) / elapsed);
    std::printf("latency us: p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f\n",
                total.latency.quantile_us(0.50), total.latency.quantile_us(0.90),
                total.latency.quantile_us(0.99), total.latency.quantile_us(0.999));
    if (self) {
      const StunCounters k = self->server().counters();
      std::printf("server: success %llu  not_stun %llu  write_error %llu  read_error %llu\n",
                  static_cast<unsigned long long>(k.success),
                  static_cast<unsigned long long>(k.not_stun),
                  static_cast<unsigned long long>(k.write_error),
                  static_cast<unsigned long long>(k.read_error));
    }
    return total.replies > 0 && total.bad_replies == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stun-load: %s\n", e.what());
    return 1;
  }
}
