#include "tests/bench/derp_load_engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "relay/client/derp_client.h"
#include "relay/protocol/constants.h"
#include "tests/bench/derp_load_proc.h"
#include "tests/bench/syscall_counter.h"

namespace derp::bench {

namespace asio = boost::asio;
namespace proto = protocol;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kHeaderBytes = 24;      // seq u64, send time ns i64, pair u32, magic u32
constexpr std::uint32_t kMagic = 0x6c6f6164;  // "load"

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

Clock::time_point at_ns(std::int64_t ns) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

void sleep_until_ns(std::int64_t ns) {
  std::this_thread::sleep_until(at_ns(ns));
}

struct Pair {
  int index = 0;
  std::size_t thread = 0;
  std::string send_url, recv_url;
  proto::NodePrivate skey, rkey;
  proto::NodePublic rpub;
  std::unique_ptr<client::DerpClient> sender, receiver;
  std::atomic<std::uint64_t> sent{0}, received{0};
  // Owned by the pair's thread.
  std::uint64_t highest = 0;  // seq + 1 of the newest packet received
  std::uint64_t stalls = 0;
  asio::steady_timer* wake = nullptr;
  bool waiting = false;
  std::string error;
};

struct Worker {
  asio::io_context io{1};
  Histogram latency;
  std::thread thread;
};

struct Shared {
  explicit Shared(const LoadOptions& o) : o(o) {}
  const LoadOptions& o;
  std::int64_t t_start = 0, t_warm = 0, t_end = 0;
  std::uint64_t per_pair_cap = 0;
  std::atomic<bool> stop{false};
  std::atomic<int> connected{0}, failed{0}, senders_done{0};
  std::mutex mu;  // guards the fields below
  std::string first_error;
  std::vector<double> probe_ms;
  std::uint64_t probe_failures = 0;

  void note_error(const std::string& e) {
    std::lock_guard lock(mu);
    if (first_error.empty()) first_error = e;
  }
};

client::ClientOptions client_options(const LoadOptions& o, const std::string& url,
                                     const proto::NodePrivate& key) {
  client::ClientOptions c;
  c.url = url;
  c.key = key;
  c.ca_file = o.ca_file;
  c.verify_tls = !o.insecure;
  c.timeout = std::chrono::milliseconds(30000);
  return c;
}

asio::awaitable<void> wait_until(asio::steady_timer& timer, std::int64_t ns) {
  timer.expires_at(at_ns(ns));
  boost::system::error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  co_await timer.async_wait(token);
}

asio::awaitable<void> connect_pair(Shared& s, Pair& p) {
  auto ex = co_await asio::this_coro::executor;
  client::ClientOptions ro = client_options(s.o, p.recv_url, p.rkey);
  client::ClientOptions so = client_options(s.o, p.send_url, p.skey);
  std::string error;
  try {
    p.receiver = co_await client::DerpClient::connect(ex, ro);
    p.sender = co_await client::DerpClient::connect(ex, so);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!error.empty()) {
    s.note_error("pair " + std::to_string(p.index) + ": " + error);
    s.failed.fetch_add(1);
    co_return;
  }
  s.connected.fetch_add(1);
}

// The receiver: one coroutine per pair, reading RecvPackets.
asio::awaitable<void> receive_loop(Shared& s, Pair& p, Histogram& latency) {
  const auto window = static_cast<std::uint64_t>(std::max(0, s.o.window));
  for (;;) {
    client::ReceivedMessage m;
    bool ok = true;
    try {
      m = co_await p.receiver->receive();
    } catch (...) {
      ok = false;
    }
    if (!ok) break;
    auto* rp = std::get_if<client::RecvPacket>(&m);
    if (!rp || rp->data.size() < kHeaderBytes) continue;
    std::uint64_t seq;
    std::int64_t sent_at;
    std::uint32_t magic;
    std::memcpy(&seq, rp->data.data(), 8);
    std::memcpy(&sent_at, rp->data.data() + 8, 8);
    std::memcpy(&magic, rp->data.data() + 20, 4);
    if (magic != kMagic) continue;
    const std::int64_t now = now_ns();
    p.received.store(p.received.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (seq + 1 > p.highest) p.highest = seq + 1;
    if (sent_at >= s.t_warm && sent_at < s.t_end) latency.record(now - sent_at);
    if (p.waiting && p.wake && p.sent.load(std::memory_order_relaxed) - p.highest < window) {
      p.waiting = false;
      p.wake->cancel();
    }
  }
}

// Reads (and drops) whatever the server sends to a sender: keep-alives, health.
asio::awaitable<void> discard_loop(client::DerpClient& c) {
  for (;;) {
    bool ok = true;
    try {
      co_await c.receive();
    } catch (...) {
      ok = false;
    }
    if (!ok) break;
  }
}

asio::awaitable<void> send_loop(Shared& s, Pair& p, std::int64_t phase_ns) {
  const LoadOptions& o = s.o;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  p.wake = &timer;
  std::vector<std::uint8_t> payload(o.size);
  for (std::size_t i = kHeaderBytes; i < payload.size(); ++i)
    payload[i] = static_cast<std::uint8_t>(i * 131 + p.index);
  const auto pair_index = static_cast<std::uint32_t>(p.index);
  std::memcpy(payload.data() + 16, &pair_index, 4);
  std::memcpy(payload.data() + 20, &kMagic, 4);
  const auto window = static_cast<std::uint64_t>(std::max(0, o.window));
  const auto batch = static_cast<std::uint64_t>(std::max(1, o.batch));
  const std::int64_t first = s.t_start + phase_ns;
  co_await wait_until(timer, first);
  std::uint64_t sent = 0;
  for (;;) {
    std::int64_t now = now_ns();
    if (now >= s.t_end || s.stop.load(std::memory_order_relaxed) || sent >= s.per_pair_cap) break;
    std::uint64_t n = batch;
    if (o.rate > 0) {
      const double elapsed = static_cast<double>(now - first) / 1e9;
      const auto due = static_cast<std::uint64_t>(elapsed * o.rate) + 1;
      if (due <= sent) {
        const std::int64_t next =
            first + static_cast<std::int64_t>(static_cast<double>(sent) * 1e9 / o.rate);
        co_await wait_until(timer, next);
        continue;
      }
      n = std::min(n, due - sent);
    }
    if (window > 0) {
      const std::uint64_t in_flight = sent - p.highest;
      if (in_flight >= window) {
        p.waiting = true;
        timer.expires_after(std::chrono::milliseconds(200));
        boost::system::error_code ec;
        auto token = asio::redirect_error(asio::use_awaitable, ec);
        co_await timer.async_wait(token);
        if (p.waiting) {  // not woken by the receiver: count the window as lost and go on
          p.waiting = false;
          if (sent - p.highest >= window) {
            ++p.stalls;
            p.highest = sent;
          }
        }
        continue;
      }
      n = std::min(n, window - in_flight);
    }
    n = std::min(n, s.per_pair_cap - sent);
    now = now_ns();
    std::memcpy(payload.data() + 8, &now, 8);
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint64_t seq = sent + i;
      std::memcpy(payload.data(), &seq, 8);
      p.sender->queue_packet(p.rpub, payload);
    }
    sent += n;
    p.sent.store(sent, std::memory_order_relaxed);
    bool ok = true;
    std::string error;
    try {
      co_await p.sender->flush();
    } catch (const std::exception& e) {
      ok = false;
      error = e.what();
    }
    if (!ok) {
      if (!s.stop.load()) s.note_error("pair " + std::to_string(p.index) + " send: " + error);
      break;
    }
  }
  p.wake = nullptr;
  p.waiting = false;
  s.senders_done.fetch_add(1);
}

asio::awaitable<void> probe_loop(Shared& s) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  const auto interval = static_cast<std::int64_t>(s.o.probe_interval_s * 1e9);
  std::int64_t next = s.t_warm;
  for (;;) {
    co_await wait_until(timer, next);
    next += interval;
    if (next > s.t_end || s.stop.load()) break;
    client::ClientOptions po = client_options(s.o, s.o.urls[0], proto::NodePrivate::generate());
    const std::int64_t t0 = now_ns();
    std::unique_ptr<client::DerpClient> c;
    try {
      c = co_await client::DerpClient::connect(ex, po);
    } catch (...) {
    }
    const double ms = static_cast<double>(now_ns() - t0) / 1e6;
    {
      std::lock_guard lock(s.mu);
      if (c)
        s.probe_ms.push_back(ms);
      else
        ++s.probe_failures;
    }
    if (c) c->close();
  }
}

struct Snapshot {
  std::int64_t t = 0;
  std::uint64_t sent = 0, received = 0;
  std::optional<double> server_cpu;
  std::optional<std::uint64_t> server_switches;
  double client_cpu = 0;
};

Snapshot snapshot(const std::vector<std::unique_ptr<Pair>>& pairs, pid_t server) {
  Snapshot s;
  s.t = now_ns();
  for (auto& p : pairs) {
    s.sent += p->sent.load(std::memory_order_relaxed);
    s.received += p->received.load(std::memory_order_relaxed);
  }
  if (server > 0) {
    s.server_cpu = process_cpu_seconds(server);
    s.server_switches = process_context_switches(server);
  }
  s.client_cpu = self_cpu_seconds();
  return s;
}

}  // namespace

LoadResult run_load(const LoadOptions& o) {
  LoadResult r;
  r.options = o;
  if (o.urls.empty()) {
    r.error = "no server URL";
    return r;
  }
  for (auto& u : o.urls) {
    std::string why;
    if (!is_loopback_url(u, &why)) {
      r.error = why;
      return r;
    }
  }
  if (o.size < kHeaderBytes || o.size > proto::kMaxPacketSize) {
    r.error = "packet size must be in [24, " + std::to_string(proto::kMaxPacketSize) + "]";
    return r;
  }
  if (o.pairs < 1) {
    r.error = "need at least one pair";
    return r;
  }
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  int threads =
      o.threads > 0 ? std::min<int>(o.threads, static_cast<int>(cores)) : static_cast<int>(cores);
  threads = std::min(threads, o.pairs);
  r.threads = threads;

  Shared s(o);
  s.per_pair_cap = std::max<std::uint64_t>(1, o.max_packets / static_cast<std::uint64_t>(o.pairs));
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < threads; ++i) workers.push_back(std::make_unique<Worker>());
  std::vector<std::unique_ptr<Pair>> pairs;
  const std::size_t nurl = o.urls.size();
  for (int i = 0; i < o.pairs; ++i) {
    auto p = std::make_unique<Pair>();
    p->index = i;
    p->thread = static_cast<std::size_t>(i % threads);
    p->send_url = o.urls[static_cast<std::size_t>(i) % nurl];
    p->recv_url = o.urls[(static_cast<std::size_t>(i) + (o.cross ? 1 : 0)) % nurl];
    p->skey = proto::NodePrivate::generate();
    p->rkey = proto::NodePrivate::generate();
    p->rpub = p->rkey.public_key();
    pairs.push_back(std::move(p));
  }

  using Guard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<std::unique_ptr<Guard>> guards;
  for (auto& w : workers) {
    guards.push_back(std::make_unique<Guard>(w->io.get_executor()));
    w->thread = std::thread([io = &w->io] { io->run(); });
  }
  auto log = [&](const std::string& line) {
    if (!o.quiet) std::fprintf(stderr, "derp-load: %s\n", line.c_str());
  };

  auto shutdown = [&] {
    s.stop.store(true);
    for (auto& w : workers) {
      asio::post(w->io, [&, wp = w.get()] {
        for (auto& p : pairs) {
          if (&workers[p->thread]->io != &wp->io) continue;
          if (p->wake) p->wake->cancel();
          if (p->sender) p->sender->close();
          if (p->receiver) p->receiver->close();
        }
      });
    }
    guards.clear();
    for (auto& w : workers) w->thread.join();
  };

  // 1. Connect every pair (receiver first, so no packet finds its destination missing).
  log("connecting " + std::to_string(o.pairs) + " pairs over " + std::to_string(threads) +
      " thread(s)");
  for (auto& p : pairs) asio::co_spawn(workers[p->thread]->io, connect_pair(s, *p), asio::detached);
  const std::int64_t connect_deadline = now_ns() + 60'000'000'000LL;
  while (s.connected.load() + s.failed.load() < o.pairs && now_ns() < connect_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (s.connected.load() != o.pairs) {
    shutdown();
    r.error = "connect failed: " + (s.first_error.empty() ? "timeout" : s.first_error);
    return r;
  }
  for (auto& p : pairs) {
    asio::co_spawn(workers[p->thread]->io, receive_loop(s, *p, workers[p->thread]->latency),
                   asio::detached);
    asio::co_spawn(workers[p->thread]->io, discard_loop(*p->sender), asio::detached);
  }

  // 2. Run: warm-up, then the measured interval.
  s.t_start = now_ns() + 100'000'000;
  s.t_warm = s.t_start + static_cast<std::int64_t>(o.warmup_s * 1e9);
  s.t_end = s.t_warm + static_cast<std::int64_t>(o.duration_s * 1e9);
  for (auto& p : pairs) {
    std::int64_t phase = 0;
    if (o.rate > 0) phase = static_cast<std::int64_t>(1e9 / o.rate * p->index / o.pairs);
    asio::co_spawn(workers[p->thread]->io, send_loop(s, *p, phase), asio::detached);
  }
  if (o.probe_interval_s > 0) asio::co_spawn(workers[0]->io, probe_loop(s), asio::detached);
  log("running " + std::to_string(o.warmup_s) + " s warm-up + " + std::to_string(o.duration_s) +
      " s measured");
  sleep_until_ns(s.t_warm);
  std::optional<SyscallCounter> syscalls;
  if (o.server_pid > 0) {
    if (o.count_syscalls)
      syscalls.emplace(o.server_pid);
    else
      r.syscalls_unavailable = "--no-syscalls (the CPU figure is without tracepoints)";
  }
  const Snapshot a = snapshot(pairs, o.server_pid);
  sleep_until_ns(s.t_end);
  const Snapshot b = snapshot(pairs, o.server_pid);
  std::map<std::string, std::uint64_t> syscall_counts;
  if (syscalls && syscalls->available()) syscall_counts = syscalls->stop();
  if (syscalls && !syscalls->available()) r.syscalls_unavailable = syscalls->why();

  // 3. Drain: wait for packets still in flight, then stop.
  const std::int64_t drain_deadline = now_ns() + static_cast<std::int64_t>(o.drain_s * 1e9);
  Snapshot c;
  for (;;) {
    c = snapshot(pairs, -1);
    if ((s.senders_done.load() == o.pairs && c.received >= c.sent) || now_ns() >= drain_deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  shutdown();
  for (auto& p : pairs) r.window_stalls += p->stalls;

  Histogram latency;
  for (auto& w : workers) latency.merge(w->latency);

  r.measured_s = static_cast<double>(b.t - a.t) / 1e9;
  r.offered = b.sent - a.sent;
  r.delivered = b.received - a.received;
  r.offered_pps = static_cast<double>(r.offered) / r.measured_s;
  r.delivered_pps = static_cast<double>(r.delivered) / r.measured_s;
  r.delivered_mbps = r.delivered_pps * static_cast<double>(o.size) / 1e6;
  r.total_sent = c.sent;
  r.total_received = c.received;
  r.lost = c.sent > c.received ? c.sent - c.received : 0;
  r.drop_percent = c.sent ? 100.0 * static_cast<double>(r.lost) / static_cast<double>(c.sent) : 0;
  r.latency_samples = latency.count();
  r.p50_us = static_cast<double>(latency.quantile(0.50)) / 1e3;
  r.p90_us = static_cast<double>(latency.quantile(0.90)) / 1e3;
  r.p99_us = static_cast<double>(latency.quantile(0.99)) / 1e3;
  r.p999_us = static_cast<double>(latency.quantile(0.999)) / 1e3;
  r.max_us = static_cast<double>(latency.max()) / 1e3;
  if (a.server_cpu && b.server_cpu) {
    r.server_cpu_s = *b.server_cpu - *a.server_cpu;
    r.server_cpu_cores = r.server_cpu_s / r.measured_s;
    if (r.delivered)
      r.server_cpu_us_per_packet = r.server_cpu_s * 1e6 / static_cast<double>(r.delivered);
  }
  if (a.server_switches && b.server_switches && r.delivered)
    r.server_ctx_switches_per_packet =
        static_cast<double>(*b.server_switches - *a.server_switches) /
        static_cast<double>(r.delivered);
  if (r.delivered) {
    for (const auto& [kind, n] : syscall_counts)
      r.server_syscalls_per_packet[kind] =
          static_cast<double>(n) / static_cast<double>(r.delivered);
  }
  r.client_cpu_s = b.client_cpu - a.client_cpu;
  if (r.delivered)
    r.client_cpu_us_per_packet = r.client_cpu_s * 1e6 / static_cast<double>(r.delivered);
  {
    std::lock_guard lock(s.mu);
    r.probes = s.probe_ms.size();
    r.probe_failures = s.probe_failures;
    if (!s.probe_ms.empty()) {
      std::sort(s.probe_ms.begin(), s.probe_ms.end());
      r.probe_p50_ms = s.probe_ms[s.probe_ms.size() / 2];
      r.probe_max_ms = s.probe_ms.back();
    }
    if (!s.first_error.empty()) r.error = s.first_error;
  }
  return r;
}

nlohmann::json LoadResult::to_json() const {
  nlohmann::json j;
  j["config"] = {{"urls", options.urls},         {"pairs", options.pairs},
                 {"size", options.size},         {"duration_s", options.duration_s},
                 {"warmup_s", options.warmup_s}, {"rate_per_pair", options.rate},
                 {"window", options.window},     {"batch", options.batch},
                 {"threads", threads},           {"cross", options.cross}};
  j["measured_s"] = measured_s;
  j["offered_pps"] = offered_pps;
  j["delivered_pps"] = delivered_pps;
  j["delivered_MBps"] = delivered_mbps;
  j["offered"] = offered;
  j["delivered"] = delivered;
  j["total_sent"] = total_sent;
  j["total_received"] = total_received;
  j["lost"] = lost;
  j["drop_percent"] = drop_percent;
  j["window_stalls"] = window_stalls;
  j["latency_us"] = {{"samples", latency_samples},
                     {"p50", p50_us},
                     {"p90", p90_us},
                     {"p99", p99_us},
                     {"p999", p999_us},
                     {"max", max_us}};
  if (server_cpu_s >= 0) {
    j["server"] = {{"cpu_s", server_cpu_s},
                   {"cpu_us_per_delivered_packet", server_cpu_us_per_packet},
                   {"cores_busy", server_cpu_cores},
                   {"context_switches_per_packet", server_ctx_switches_per_packet}};
    if (!server_syscalls_per_packet.empty())
      j["server"]["syscalls_per_packet"] = server_syscalls_per_packet;
  }
  j["client"] = {{"cpu_s", client_cpu_s},
                 {"cpu_us_per_delivered_packet", client_cpu_us_per_packet}};
  if (options.probe_interval_s > 0)
    j["probe_connects"] = {{"count", probes},
                           {"failures", probe_failures},
                           {"p50_ms", probe_p50_ms},
                           {"max_ms", probe_max_ms}};
  if (!error.empty()) j["error"] = error;
  return j;
}

std::string LoadResult::to_text() const {
  char buf[2048];
  std::string out;
  const char* mode = options.rate > 0 ? "rate" : options.window > 0 ? "window" : "unlimited";
  std::snprintf(buf, sizeof buf,
                "derp-load: %d pairs, %zu-byte packets, %s (rate %.0f/s/pair, window %d), %d "
                "client thread(s), %.1f s measured\n",
                options.pairs, options.size, mode, options.rate, options.window, threads,
                measured_s);
  out += buf;
  // Every figure below belongs to this write pattern: say which, so batched numbers are never
  // mistaken for what real clients get.
  if (options.batch <= 1) {
    out += "  pattern   one write per packet (one TLS record on TLS), as Tailscale's client\n";
  } else {
    std::snprintf(buf, sizeof buf,
                  "  pattern   BATCHED: up to %d packets per write (real clients write one)\n",
                  options.batch);
    out += buf;
  }
  std::snprintf(buf, sizeof buf,
                "  offered   %10.0f pkt/s\n  delivered %10.0f pkt/s  %8.1f MB/s\n"
                "  lost      %llu of %llu (%.3f %%), window stalls %llu\n",
                offered_pps, delivered_pps, delivered_mbps, static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(total_sent), drop_percent,
                static_cast<unsigned long long>(window_stalls));
  out += buf;
  std::snprintf(buf, sizeof buf,
                "  latency   p50 %.0f µs  p90 %.0f µs  p99 %.0f µs  p99.9 %.0f µs  max %.0f µs "
                "(%llu samples)\n",
                p50_us, p90_us, p99_us, p999_us, max_us,
                static_cast<unsigned long long>(latency_samples));
  out += buf;
  if (server_cpu_s >= 0) {
    std::snprintf(buf, sizeof buf,
                  "  server    %.2f µs CPU per delivered packet (%.2f cores busy), %.3f context "
                  "switches per packet\n",
                  server_cpu_us_per_packet, server_cpu_cores, server_ctx_switches_per_packet);
    out += buf;
    if (!server_syscalls_per_packet.empty()) {
      std::string line = "  syscalls ";
      auto all = server_syscalls_per_packet.find("all");
      if (all != server_syscalls_per_packet.end()) {
        std::snprintf(buf, sizeof buf, " %.2f per packet:", all->second);
        line += buf;
      }
      for (const auto& [kind, n] : server_syscalls_per_packet) {
        if (kind == "all" || n < 0.005) continue;
        std::snprintf(buf, sizeof buf, " %s %.2f", kind.c_str(), n);
        line += buf;
      }
      out += line + "\n";
    } else if (!syscalls_unavailable.empty()) {
      out += "  syscalls  not counted: " + syscalls_unavailable + "\n";
    }
  }
  std::snprintf(buf, sizeof buf, "  client    %.2f µs CPU per delivered packet\n",
                client_cpu_us_per_packet);
  out += buf;
  if (options.probe_interval_s > 0) {
    std::snprintf(buf, sizeof buf,
                  "  fresh connects under load: %llu ok, %llu failed, p50 %.1f ms, max %.1f ms\n",
                  static_cast<unsigned long long>(probes),
                  static_cast<unsigned long long>(probe_failures), probe_p50_ms, probe_max_ms);
    out += buf;
  }
  if (!error.empty()) out += "  error: " + error + "\n";
  return out;
}

}  // namespace derp::bench
