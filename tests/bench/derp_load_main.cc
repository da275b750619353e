// derp-load: a DERP relay load generator for loopback targets (see derp_load_engine.h and
// tests/bench/README.md).
//
//   derp-load --spawn --derpd build-bench/bin/derpd --pairs 10 --window 16
//   derp-load --url http://127.0.0.1:3340/derp --server-pid $(pidof derpd) --rate 200 --pairs 100
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "relay/tls/allocator_tuning.h"
#include "tests/bench/derp_load_engine.h"
#include "tests/bench/derp_load_proc.h"

namespace {

const char* kUsage =
    "usage: derp-load (--url URL[,URL…] [--server-pid PID] | --spawn [--derpd PATH] [--tls] "
    "[--ws]\n"
    "                  [--derpd-flags \"--workers 1 …\"])\n"
    "                 [--pairs 10] [--size 1200] [--duration 5] [--warmup 1] [--rate 0]\n"
    "                 [--window 0] [--batch 1] [--threads 0] [--cross] [--ca-file F] "
    "[--insecure]\n"
    "                 [--probe-interval 0] [--drain 2] [--max-packets N] [--no-syscalls] [--json]\n"
    "  --url       DERP URL(s) (http://, https://, ws://, wss://); loopback hosts only\n"
    "  --spawn     start derpd (--derpd, default ./derpd next to this binary) on 127.0.0.1:<free>\n"
    "              and measure it; --tls gives it an ECDSA P-256 test certificate; --ws uses "
    "ws://\n"
    "  --rate      packets/s per pair (0: unlimited); --window: max in flight per sender\n"
    "  --batch     packets per write; 1 (default) is what Tailscale clients do, more is labelled\n"
    "              BATCHED in the output\n"
    "  --threads   client io_context threads (0: one per core)\n"
    "  --cross     receiver of pair i on URL i+1 (meshed region)\n"
    "  --server-pid  the server whose CPU (/proc/PID/stat) is divided by delivered packets\n"
    "  --probe-interval S  time a fresh client's connect every S seconds while loaded\n"
    "  --no-syscalls don't count the server's syscalls: the tracepoints that count them cost\n"
    "              the server CPU on every call, so CPU figures are a little lower without\n";

}  // namespace

int main(int argc, char** argv) {
  // The generator's TLS clients churn record buffers the same way derpd does.
  derp::tls::tune_allocator_for_tls_buffers();
  using namespace derp::bench;
  LoadOptions o;
  bool spawn = false, tls = false, ws = false, json = false;
  std::string derpd = sibling_derpd(argv[0]);
  std::vector<std::string> derpd_flags;
  long long pairs = o.pairs, size = static_cast<long long>(o.size), window = 0, batch = o.batch,
            threads = 0, server_pid = -1, max_packets = static_cast<long long>(o.max_packets);
  Flags f("derp-load", kUsage);
  f.list("url", &o.urls);
  f.flag("spawn", &spawn);
  f.flag("tls", &tls);
  f.flag("ws", &ws);
  f.text("derpd", &derpd);
  f.words("derpd-flags", &derpd_flags);
  f.integer("pairs", &pairs, 1, 5000);
  f.integer("size", &size, 24, 65535);
  f.number("duration", &o.duration_s, 0.1, 600);
  f.number("warmup", &o.warmup_s, 0, 60);
  f.number("rate", &o.rate, 0, 1e7);
  f.integer("window", &window, 0, 100000);
  f.integer("batch", &batch, 1, 4096);
  f.integer("threads", &threads, 0, 64);
  f.flag("cross", &o.cross);
  bool no_syscalls = false;
  f.flag("no-syscalls", &no_syscalls);
  f.text("ca-file", &o.ca_file);
  f.flag("insecure", &o.insecure);
  f.integer("server-pid", &server_pid, -1, 1LL << 30);
  f.number("probe-interval", &o.probe_interval_s, 0, 60);
  f.number("drain", &o.drain_s, 0, 60);
  f.integer("max-packets", &max_packets, 1, 1LL << 40);
  f.flag("json", &json);
  f.parse(argc, argv);
  o.pairs = static_cast<int>(pairs);
  o.size = static_cast<std::size_t>(size);
  o.window = static_cast<int>(window);
  o.batch = static_cast<int>(batch);
  o.threads = static_cast<int>(threads);
  o.server_pid = static_cast<pid_t>(server_pid);
  o.max_packets = static_cast<std::uint64_t>(max_packets);
  o.count_syscalls = !no_syscalls;
  if (spawn == !o.urls.empty()) f.fail("give either --url or --spawn");
  if (!spawn && (tls || ws || !derpd_flags.empty()))
    f.fail("--tls, --ws and --derpd-flags go with --spawn");

  raise_nofile_limit(4 * static_cast<std::uint64_t>(o.pairs) + 1024);
  std::unique_ptr<SpawnedDerpd> server;
  if (spawn) {
    try {
      server = std::make_unique<SpawnedDerpd>(derpd, derpd_flags, tls);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "derp-load: %s\n", e.what());
      return 1;
    }
    std::string url = server->url();
    if (ws) url.replace(0, url.find("://"), tls ? "wss" : "ws");
    o.urls = {url};
    if (tls && o.ca_file.empty()) o.ca_file = server->ca_file();
    o.server_pid = server->pid();
    std::fprintf(stderr, "derp-load: spawned derpd pid %d at %s\n", static_cast<int>(server->pid()),
                 url.c_str());
  }
  LoadResult r = run_load(o);
  if (r.measured_s <= 0) {  // refused or could not start: there are no numbers to show
    std::fprintf(stderr, "derp-load: %s\n", r.error.c_str());
    if (json) std::printf("%s\n", r.to_json().dump(2).c_str());
    return 2;
  }
  if (json)
    std::printf("%s\n", r.to_json().dump(2).c_str());
  else
    std::fputs(r.to_text().c_str(), stdout);
  if (server) server->stop();
  return r.error.empty() ? 0 : 1;
}
