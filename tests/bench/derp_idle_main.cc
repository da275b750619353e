// derp-idle: opens M idle DERP connections (TLS by default) to a loopback derpd, completes the DERP
// handshake on each, and reports the server's RSS per connection, the handshake rate and the
// server CPU per handshake; then checks that an active pair still relays at speed while the idle
// connections are held (the same measurement as derp-load, before and after).
//
//   derp-idle --spawn --derpd build-bench/bin/derpd --conns 10000
//   derp-idle --url https://127.0.0.1:8443/derp --ca-file ca.pem --server-pid PID --conns 100000
//
// Source addresses are spread over 127.0.0.1..127.0.0.S (bind before connect, with
// IP_BIND_ADDRESS_NO_PORT) so that 100k connections to one server port do not run out of
// ephemeral ports. The idle side is a small handshake-only client (the same wire steps as
// relay/client's DerpClient, with fast start under TLS 1.3) so that it can bind its source address
// and keeps no read buffer per connection: the client's own memory stays out of the way.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "relay/client/derp_url.h"
#include "relay/protocol/box.h"
#include "relay/protocol/client_info.h"
#include "relay/protocol/frame.h"
#include "relay/tls/client_context.h"
#include "relay/tls/meta_cert.h"
#include "tests/bench/derp_load_engine.h"
#include "tests/bench/derp_load_proc.h"

namespace {

namespace asio = boost::asio;
namespace proto = derp::protocol;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace derp::bench;

const char* kUsage =
    "usage: derp-idle (--url URL [--server-pid PID] [--ca-file F | --insecure]\n"
    "                  | --spawn [--derpd PATH] [--plain] [--derpd-flags \"…\"])\n"
    "                 [--conns 10000] [--concurrency 64] [--threads 0] [--sources 0]\n"
    "                 [--hold 0] [--active-pairs 10] [--active-duration 3] [--json]\n"
    "  --conns        idle connections to open (up to 200000)\n"
    "  --concurrency  handshakes in flight per thread\n"
    "  --sources      source addresses 127.0.0.1..S (0: one per 20000 connections, at least 1)\n"
    "  --hold         seconds to keep the connections after the measurements\n"
    "  --active-pairs pairs of the window-16 relaying check before/after (0: skip it)\n";

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct IdleConn {
  std::optional<tcp::socket> plain;
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls;
};

struct Thread {
  asio::io_context io{1};
  std::shared_ptr<asio::ssl::context> ctx;
  std::vector<std::unique_ptr<IdleConn>> conns;
  Histogram latency;
  std::thread thread;
};

struct Shared {
  tcp::endpoint dst;
  bool tls = false;
  bool verify = true;
  std::string host;         // for certificate verification
  std::string host_header;  // for the upgrade request
  std::size_t conns = 0;
  std::uint32_t sources = 1;
  std::atomic<std::size_t> next{0}, done{0}, failed{0};
  std::mutex mu;
  std::string first_error;
};

template <class Stream>
asio::awaitable<void> read_at_least(Stream& s, std::vector<std::uint8_t>& in, std::size_t n) {
  std::uint8_t buf[2048];
  while (in.size() < n) {
    std::size_t got = co_await s.async_read_some(asio::buffer(buf), asio::use_awaitable);
    in.insert(in.end(), buf, buf + got);
  }
}

// Reads one whole frame from `in` (filling it from `s`), returns its header and moves its payload
// to `payload`.
template <class Stream>
asio::awaitable<proto::FrameHeader> read_frame(Stream& s, std::vector<std::uint8_t>& in,
                                               std::vector<std::uint8_t>& payload) {
  const std::size_t header = proto::kFrameHeaderLen;
  co_await read_at_least(s, in, header);
  auto h = *proto::parse_frame_header(in);
  if (h.length > 4096) throw std::runtime_error("handshake frame too long");
  const std::size_t whole = header + h.length;
  co_await read_at_least(s, in, whole);
  payload.assign(in.begin() + static_cast<std::ptrdiff_t>(header),
                 in.begin() + static_cast<std::ptrdiff_t>(whole));
  in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(whole));
  co_return h;
}

void append_client_info(std::vector<std::uint8_t>& out, const proto::NodePrivate& key,
                        const proto::NodePublic& server) {
  proto::ClientInfo info;
  info.version = proto::kProtocolVersion;
  info.can_ack_pings = true;
  const std::string json = proto::write_client_info_json(info);
  auto sealed = proto::seal_box(
      proto::Bytes(reinterpret_cast<const std::uint8_t*>(json.data()), json.size()), key, server);
  proto::append_client_info(out, key.public_key(), sealed);
}

// The client side of the DERP upgrade and handshake (protocol §1.3, §2.4), as relay/client does it.
template <class Stream>
asio::awaitable<void> derp_handshake(Stream& s, const Shared& sh, const proto::NodePrivate& key,
                                     std::optional<proto::NodePublic> fast_key) {
  std::string request = "GET /derp HTTP/1.1\r\nHost: " + sh.host_header +
                        "\r\nUser-Agent: derp-idle\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n";
  if (fast_key) request += "Derp-Fast-Start: 1\r\n";
  request += "\r\n";
  std::vector<std::uint8_t> out(request.begin(), request.end());
  if (fast_key) append_client_info(out, key, *fast_key);
  co_await asio::async_write(s, asio::buffer(out), asio::use_awaitable);
  std::vector<std::uint8_t> in, payload;
  if (!fast_key) {
    for (;;) {
      const std::size_t want = in.size() + 1;
      co_await read_at_least(s, in, want);
      std::string_view seen(reinterpret_cast<const char*>(in.data()), in.size());
      auto end = seen.find("\r\n\r\n");
      if (end == std::string_view::npos) {
        if (in.size() > 8192) throw std::runtime_error("upgrade response too long");
        continue;
      }
      if (!seen.starts_with("HTTP/1.1 101"))
        throw std::runtime_error("upgrade refused: " +
                                 std::string(seen.substr(0, seen.find('\r'))));
      in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(end + 4));
      break;
    }
  }
  auto h = co_await read_frame(s, in, payload);
  if (h.type != static_cast<std::uint8_t>(proto::FrameType::kServerKey))
    throw std::runtime_error("expected ServerKey");
  auto server_key = proto::parse_server_key(payload);
  if (!server_key) throw std::runtime_error("bad ServerKey");
  if (!fast_key) {
    out.clear();
    append_client_info(out, key, server_key.value);
    co_await asio::async_write(s, asio::buffer(out), asio::use_awaitable);
  }
  h = co_await read_frame(s, in, payload);
  if (h.type != static_cast<std::uint8_t>(proto::FrameType::kServerInfo))
    throw std::runtime_error("expected ServerInfo, got frame type " + std::to_string(h.type));
  auto json = proto::open_box(payload, key, server_key.value);
  if (!json) throw std::runtime_error("ServerInfo does not open");
}

asio::awaitable<void> open_one(Thread& t, Shared& sh, std::size_t i) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  sock.open(tcp::v4());
  int one = 1;
  ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  const tcp::endpoint src(
      asio::ip::address_v4(0x7f000001u + static_cast<std::uint32_t>(i % sh.sources)), 0);
  sock.bind(src);
  co_await sock.async_connect(sh.dst, asio::use_awaitable);
  sock.set_option(tcp::no_delay(true));
  const proto::NodePrivate key = proto::NodePrivate::generate();
  auto c = std::make_unique<IdleConn>();
  if (sh.tls) {
    c->tls = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(sock), *t.ctx);
    derp::tls::prepare_client_ssl(c->tls->native_handle(), sh.host, sh.verify);
    co_await c->tls->async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    std::optional<proto::NodePublic> meta;
    if (derp::tls::negotiated_tls13(c->tls->native_handle()))
      meta = derp::tls::find_meta_cert_key(c->tls->native_handle());
    co_await derp_handshake(*c->tls, sh, key, meta);
  } else {
    c->plain.emplace(std::move(sock));
    const std::optional<proto::NodePublic> none;
    co_await derp_handshake(*c->plain, sh, key, none);
  }
  t.conns.push_back(std::move(c));
}

asio::awaitable<void> opener(Thread& t, Shared& sh) {
  for (;;) {
    const std::size_t i = sh.next.fetch_add(1);
    if (i >= sh.conns || sh.failed.load() > 100) break;
    const std::int64_t t0 = now_ns();
    std::string error;
    try {
      co_await open_one(t, sh, i);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (error.empty()) {
      t.latency.record(now_ns() - t0);
      sh.done.fetch_add(1);
    } else {
      sh.failed.fetch_add(1);
      std::lock_guard lock(sh.mu);
      if (sh.first_error.empty()) sh.first_error = "connection " + std::to_string(i) + ": " + error;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> urls;
  bool spawn = false, plain = false, insecure = false, json = false;
  std::string derpd = sibling_derpd(argv[0]), ca_file;
  std::vector<std::string> derpd_flags;
  long long conns = 10000, concurrency = 64, threads = 0, sources = 0, server_pid = -1,
            active_pairs = 10;
  double hold_s = 0, active_duration = 3;
  Flags f("derp-idle", kUsage);
  f.list("url", &urls);
  f.flag("spawn", &spawn);
  f.flag("plain", &plain);
  f.text("derpd", &derpd);
  f.words("derpd-flags", &derpd_flags);
  f.text("ca-file", &ca_file);
  f.flag("insecure", &insecure);
  f.integer("server-pid", &server_pid, -1, 1LL << 30);
  f.integer("conns", &conns, 1, 200000);
  f.integer("concurrency", &concurrency, 1, 4096);
  f.integer("threads", &threads, 0, 64);
  f.integer("sources", &sources, 0, 250);
  f.number("hold", &hold_s, 0, 3600);
  f.integer("active-pairs", &active_pairs, 0, 1000);
  f.number("active-duration", &active_duration, 0.5, 60);
  f.flag("json", &json);
  f.parse(argc, argv);
  if (spawn == (urls.size() == 1)) f.fail("give either --url URL (one) or --spawn");
  if (!spawn && (plain || !derpd_flags.empty()))
    f.fail("--plain and --derpd-flags go with --spawn");

  // Our fds, and derpd's when we start it (it inherits the limit).
  const auto want_fds = static_cast<std::uint64_t>(conns) + 1024;
  const std::uint64_t got_fds = raise_nofile_limit(want_fds);
  if (got_fds < want_fds) {
    std::fprintf(stderr,
                 "derp-idle: RLIMIT_NOFILE is %llu, %llu needed (raising the hard limit needs "
                 "CAP_SYS_RESOURCE; derpd needs as many)\n",
                 static_cast<unsigned long long>(got_fds),
                 static_cast<unsigned long long>(want_fds));
    return 1;
  }
  std::unique_ptr<SpawnedDerpd> server;
  std::string url;
  if (spawn) {
    try {
      server = std::make_unique<SpawnedDerpd>(derpd, derpd_flags, !plain);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "derp-idle: %s\n", e.what());
      return 1;
    }
    url = server->url();
    server_pid = server->pid();
    if (!plain) ca_file = server->ca_file();
    std::fprintf(stderr, "derp-idle: spawned derpd pid %d at %s\n", static_cast<int>(server_pid),
                 url.c_str());
  } else {
    url = urls[0];
  }
  std::string why;
  if (!is_loopback_url(url, &why)) {
    std::fprintf(stderr, "derp-idle: %s\n", why.c_str());
    return 2;
  }
  auto parsed = derp::client::parse_derp_url(url);
  if (parsed->websocket) {
    std::fprintf(stderr, "derp-idle: ws:// and wss:// are not supported for idle connections\n");
    return 2;
  }
  Shared sh;
  {
    asio::io_context io;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(parsed->host, std::to_string(parsed->port));
    for (auto& e : endpoints)
      if (e.endpoint().address().is_v4()) sh.dst = e.endpoint();
    if (sh.dst.port() == 0) {
      std::fprintf(stderr, "derp-idle: %s has no IPv4 loopback address\n", url.c_str());
      return 2;
    }
  }
  sh.tls = parsed->tls;
  sh.verify = !insecure;
  sh.host = parsed->host;
  sh.host_header = parsed->host_header();
  sh.conns = static_cast<std::size_t>(conns);
  sh.sources = sources > 0 ? static_cast<std::uint32_t>(sources)
                           : static_cast<std::uint32_t>((conns + 19999) / 20000);

  nlohmann::json out;
  out["config"] = {{"url", url},
                   {"conns", conns},
                   {"tls", sh.tls},
                   {"sources", sh.sources},
                   {"concurrency", concurrency}};
  auto active_check = [&](const char* label) {
    if (active_pairs <= 0) return;
    LoadOptions lo;
    lo.urls = {url};
    lo.pairs = static_cast<int>(active_pairs);
    lo.window = 16;
    lo.duration_s = active_duration;
    lo.warmup_s = 0.5;
    lo.ca_file = ca_file;
    lo.insecure = insecure;
    lo.server_pid = static_cast<pid_t>(server_pid);
    lo.quiet = true;
    LoadResult r = run_load(lo);
    out[label] = r.to_json();
    std::fprintf(
        stderr, "derp-idle: %s: %.0f pkt/s delivered, %.2f µs server CPU/packet, p99 %.0f µs%s%s\n",
        label, r.delivered_pps, r.server_cpu_us_per_packet, r.p99_us,
        r.error.empty() ? "" : ", error: ", r.error.c_str());
  };

  // 1. Relaying before: also warms derpd's pools, so that they are in the baseline RSS.
  active_check("active_before");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto rss_of = [](long long pid) -> long {
    if (pid <= 0) return -1;
    auto v = process_rss_kib(static_cast<pid_t>(pid));
    return v ? *v : -1;
  };
  const long rss0 = rss_of(server_pid);
  const auto cpu0 =
      server_pid > 0 ? process_cpu_seconds(static_cast<pid_t>(server_pid)) : std::nullopt;
  const double self0 = self_cpu_seconds();

  // 2. Open the idle connections.
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int nthreads = threads > 0 ? static_cast<int>(threads) : static_cast<int>(cores);
  std::vector<std::unique_ptr<Thread>> workers;
  using Guard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<std::unique_ptr<Guard>> guards;
  for (int i = 0; i < nthreads; ++i) {
    auto t = std::make_unique<Thread>();
    if (sh.tls) t->ctx = derp::tls::make_client_context(sh.verify, ca_file);
    t->conns.reserve(static_cast<std::size_t>(conns) / static_cast<std::size_t>(nthreads) + 1);
    guards.push_back(std::make_unique<Guard>(t->io.get_executor()));
    for (long long k = 0; k < concurrency; ++k)
      asio::co_spawn(t->io, opener(*t, sh), asio::detached);
    workers.push_back(std::move(t));
  }
  const std::int64_t t0 = now_ns();
  for (auto& t : workers) t->thread = std::thread([io = &t->io] { io->run(); });
  std::size_t last_report = 0, last_count = 0;
  std::int64_t last_progress = now_ns();
  bool stalled = false;
  while (sh.done.load() + sh.failed.load() < sh.conns && sh.failed.load() <= 100) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::size_t count = sh.done.load() + sh.failed.load();
    if (count != last_count) {
      last_count = count;
      last_progress = now_ns();
    } else if (now_ns() - last_progress > 30'000'000'000LL) {
      stalled = true;  // no handshake finished for 30 s: give up on the rest
      break;
    }
    if (sh.done.load() >= last_report + 10000) {
      last_report = sh.done.load() / 10000 * 10000;
      std::fprintf(stderr, "derp-idle: %zu connections open\n", last_report);
    }
  }
  const double open_s = static_cast<double>(now_ns() - t0) / 1e9;
  const auto cpu1 =
      server_pid > 0 ? process_cpu_seconds(static_cast<pid_t>(server_pid)) : std::nullopt;
  const double self1 = self_cpu_seconds();
  // The openers have returned (or are abandoned when stalled); the idle sockets stay open.
  if (stalled || sh.failed.load() > 100)
    for (auto& t : workers) t->io.stop();
  guards.clear();
  for (auto& t : workers) t->thread.join();
  Histogram latency;
  for (auto& t : workers) latency.merge(t->latency);

  const std::size_t open = sh.done.load();
  std::fprintf(stderr, "derp-idle: %zu connections open, %zu failed%s%s\n", open, sh.failed.load(),
               sh.first_error.empty() ? "" : "; first error: ", sh.first_error.c_str());
  // 3. Let the handshake garbage settle, then measure memory.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const long rss1 = rss_of(server_pid);
  const auto self_rss = process_rss_kib(::getpid());

  out["open"] = open;
  if (stalled) out["error"] = "handshakes stalled for 30 s";
  out["failed"] = sh.failed.load();
  if (!sh.first_error.empty()) out["first_error"] = sh.first_error;
  out["open_seconds"] = open_s;
  out["handshakes_per_s"] = static_cast<double>(open) / open_s;
  out["handshake_ms"] = {{"p50", latency.quantile(0.5) / 1e6},
                         {"p99", latency.quantile(0.99) / 1e6},
                         {"max", latency.max() / 1e6}};
  out["client_cpu_ms_per_handshake"] = open ? (self1 - self0) * 1e3 / static_cast<double>(open) : 0;
  if (cpu0 && cpu1 && open)
    out["server_cpu_ms_per_handshake"] = (*cpu1 - *cpu0) * 1e3 / static_cast<double>(open);
  if (rss0 >= 0 && rss1 >= 0) {
    out["server_rss_kib_before"] = rss0;
    out["server_rss_kib_after"] = rss1;
    if (open)
      out["server_rss_bytes_per_conn"] =
          static_cast<double>(rss1 - rss0) * 1024.0 / static_cast<double>(open);
  }
  if (self_rss) out["client_rss_kib"] = *self_rss;

  // 4. Relaying while they are held.
  active_check("active_with_idle");
  if (hold_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(hold_s));
  if (server_pid > 0) {
    if (auto live = process_cpu_seconds(static_cast<pid_t>(server_pid)); !live)
      out["error"] = "the server exited";
  }

  // 5. Close them and see what the server gives back.
  for (auto& t : workers) t->conns.clear();
  if (server_pid > 0) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    if (long rss2 = rss_of(server_pid); rss2 >= 0) out["server_rss_kib_after_close"] = rss2;
  }
  if (json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("derp-idle: %zu idle %s connections (%u source addresses), %zu failed\n", open,
                sh.tls ? "TLS" : "plain", sh.sources, sh.failed.load());
    std::printf(
        "  handshakes %.0f /s (%.1f s; latency p50 %.1f ms, p99 %.1f ms), concurrency %lld x %d\n",
        out["handshakes_per_s"].get<double>(), open_s, latency.quantile(0.5) / 1e6,
        latency.quantile(0.99) / 1e6, concurrency, nthreads);
    if (out.contains("server_cpu_ms_per_handshake"))
      std::printf("  server CPU %.3f ms per handshake; client CPU %.3f ms per handshake\n",
                  out["server_cpu_ms_per_handshake"].get<double>(),
                  out["client_cpu_ms_per_handshake"].get<double>());
    if (out.contains("server_rss_bytes_per_conn"))
      std::printf("  server RSS %ld KiB -> %ld KiB: %.0f bytes (%.2f KiB) per idle connection\n",
                  out["server_rss_kib_before"].get<long>(), out["server_rss_kib_after"].get<long>(),
                  out["server_rss_bytes_per_conn"].get<double>(),
                  out["server_rss_bytes_per_conn"].get<double>() / 1024);
    if (out.contains("server_rss_kib_after_close"))
      std::printf("  server RSS after closing them: %ld KiB\n",
                  out["server_rss_kib_after_close"].get<long>());
    for (const char* label : {"active_before", "active_with_idle"}) {
      if (!out.contains(label)) continue;
      const auto& a = out[label];
      std::printf(
          "  %-16s %d pairs window 16: %.0f pkt/s delivered, p99 %.0f µs, server %.2f µs "
          "CPU/pkt%s\n",
          label, static_cast<int>(active_pairs), a["delivered_pps"].get<double>(),
          a["latency_us"]["p99"].get<double>(),
          a.contains("server") ? a["server"]["cpu_us_per_delivered_packet"].get<double>() : -1.0,
          a.contains("error") ? " (error)" : "");
    }
  }
  workers.clear();
  if (server) server->stop();
  return open == sh.conns ? 0 : 1;
}
