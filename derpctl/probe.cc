// `derpctl probe`: derpprobe's checks (protocol §10) against a DERP map or one node, with the
// project's own DERP client. --once prints one good:/bad: line per probe and exits 3 when any
// failed; otherwise it probes every --interval and serves derpprobe's metrics on --listen.
#include <CLI/CLI.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "derpctl/command.h"
#include "derpctl/duration_arg.h"
#include "derpctl/probe/map_source.h"
#include "derpctl/probe/probe_book.h"
#include "derpctl/probe/probe_runner.h"
#include "relay/http/metrics_listener.h"
#include "relay/main/listen_address.h"
#include "relay/main/mesh_key_file.h"
#include "relay/tls/probe_checks.h"

namespace derpctl {
namespace {

namespace asio = boost::asio;
using namespace derpctl::probe;

struct ProbeFlags {
  std::string derp_map;
  std::string node;
  int stun_port = 3478;
  std::string region;
  std::string probes = "tls,udp,mesh";
  std::string mesh_psk_file;
  std::string ca_file;
  std::size_t bw_size = 1000000;
  double qd_rate = 20;
  std::string qd_duration = "3s";
  std::string qd_packet_timeout = "5s";
  std::string interval = "15s";
  bool once = false;
  std::string listen = "127.0.0.1:8030";
};

std::chrono::milliseconds duration_flag(const std::string& text, const char* flag) {
  auto d = parse_duration(text);
  if (!d || d->count() == 0) {
    throw CommandError(std::string(flag) + ": \"" + text + "\" is not a duration (e.g. 15s, 1m)",
                       kUsage);
  }
  return *d;
}

std::string ms_text(double ms) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f ms", ms);
  return text;
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  return derp::tls::utc_text(std::chrono::system_clock::to_time_t(t));
}

std::string line_of(const ProbeReport& r) {
  std::string line = std::string(r.outcome.good ? "good: " : "bad: ") + r.spec.name + " (" +
                     ms_text(r.outcome.latency_ms) + ")";
  if (!r.outcome.reason.empty()) line += (r.outcome.good ? " " : ": ") + r.outcome.reason;
  return line;
}

nlohmann::json json_of(const ProbeReport& r) {
  nlohmann::json j{{"name", r.spec.name},        {"class", class_label(r.spec.cls)},
                   {"good", r.outcome.good},     {"latency_ms", r.outcome.latency_ms},
                   {"reason", r.outcome.reason}, {"start", iso_time(r.start)},
                   {"end", iso_time(r.end)}};
  if (r.spec.cls != ProbeClass::kDerpMap) {
    j["region"] = r.spec.region_code;
    j["region_id"] = r.spec.region_id;
    j["hostname"] = r.spec.from.host_name;
  }
  if (!r.spec.derp_path().empty()) j["derp_path"] = r.spec.derp_path();
  if (!r.spec.address_family().empty()) j["address_family"] = r.spec.address_family();
  if (!r.outcome.figures.empty()) {
    auto& figures = j["figures"];
    for (const auto& [name, value] : r.outcome.figures) figures[name] = value;
  }
  return j;
}

void print_reports(const std::vector<ProbeReport>& reports, Output output) {
  if (output == Output::kJson) {
    auto all = nlohmann::json::array();
    for (const auto& r : reports) all.push_back(json_of(r));
    std::cout << all.dump(2) << std::endl;
    return;
  }
  for (const auto& r : reports) {
    std::cout << (output == Output::kJsonl ? json_of(r).dump() : line_of(r)) << '\n';
  }
  std::cout.flush();
}

// --node NAME: where its STUN server is, from DNS, each round. When the name does not resolve
// there is no udp probe, and the tls and mesh probes report the DNS error.
asio::awaitable<void> resolve_node(Executor ex, DerpNode& node) {
  if (!node.ipv4.empty() || !node.ipv6.empty()) co_return;
  asio::ip::tcp::resolver resolver(ex);
  std::vector<std::string> addresses;
  boost::system::error_code ec;
  const std::string port;
  auto results = co_await resolver.async_resolve(node.host_name, port,
                                                 asio::redirect_error(asio::use_awaitable, ec));
  for (const auto& r : results) addresses.push_back(r.endpoint().address().to_string());
  if (!ec) fill_node_addresses(node, addresses);
}

ProbeSpec map_probe_spec() {
  ProbeSpec s;
  s.name = "derpmap-probe";
  s.cls = ProbeClass::kDerpMap;
  return s;
}

// One round: the map (fetched again when it comes from --derp-map), then every probe at once.
// The map's own report comes first when there is one.
class Prober {
 public:
  Prober(const ProbeFlags& f, ProbeSelection selection, ProbeOptions options)
      : flags_(f), selection_(std::move(selection)), options_(std::move(options)) {}

  asio::awaitable<std::vector<ProbeReport>> round(ProbeBook* book) {
    auto ex = co_await asio::this_coro::executor;
    std::vector<ProbeReport> reports;
    std::optional<DerpMap> map;
    if (!flags_.node.empty()) {
      map = single_node_map(flags_.node, flags_.stun_port).map;
      co_await resolve_node(ex, map->regions[0].nodes[0]);
    } else {
      ProbeReport map_report{map_probe_spec(), {}, std::chrono::system_clock::now(), {}};
      const auto started = std::chrono::steady_clock::now();
      auto loaded = co_await load_derp_map(ex, flags_.derp_map, options_.ca_file, options_.timeout);
      map = keeper_.after_load(loaded, std::chrono::steady_clock::now());
      map_report.end = std::chrono::system_clock::now();
      map_report.outcome.latency_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count();
      map_report.outcome.good = loaded.error.empty();
      map_report.outcome.reason =
          loaded.error.empty()
              ? std::to_string(loaded.map.regions.size()) + " regions"
              : loaded.error +
                    (map ? " (probing with the last map, loaded less than 10 min ago)" : "");
      if (book) book->record(map_report);
      reports.push_back(map_report);
    }
    if (!map) co_return reports;
    auto plan = plan_probes(*map, selection_);
    if (!plan.error.empty()) {
      ProbeReport bad{
          map_probe_spec(), {}, std::chrono::system_clock::now(), std::chrono::system_clock::now()};
      bad.outcome.reason = plan.error;
      reports.push_back(bad);
      co_return reports;
    }
    if (book) {
      book->keep_only(plan.probes);
      for (const auto& spec : plan.probes) book->started(spec);
    }
    auto results = co_await run_round(ex, plan.probes, options_);
    for (auto& r : results) {
      if (book) book->record(r);
      reports.push_back(std::move(r));
    }
    co_return reports;
  }

 private:
  const ProbeFlags& flags_;
  ProbeSelection selection_;
  ProbeOptions options_;
  MapKeeper keeper_;
};

int run_once(Prober& prober, Output output) {
  asio::io_context io;
  std::vector<ProbeReport> reports;
  asio::co_spawn(io, prober.round(nullptr), [&](std::exception_ptr e, std::vector<ProbeReport> r) {
    if (e) std::rethrow_exception(e);
    reports = std::move(r);
  });
  io.run();
  print_reports(reports, output);
  if (reports.empty()) throw CommandError("no probes: the map has no nodes to probe", kCheckFailed);
  for (const auto& r : reports) {
    if (!r.outcome.good) return kCheckFailed;
  }
  return kOk;
}

// Prints a probe's line the first time it reports and whenever it turns good or bad.
class ChangePrinter {
 public:
  explicit ChangePrinter(Output output) : output_(output) {}
  void print(const std::vector<ProbeReport>& reports) {
    std::vector<ProbeReport> changed;
    for (const auto& r : reports) {
      auto [it, fresh] = last_.try_emplace(r.spec.name, r.outcome.good);
      if (fresh || it->second != r.outcome.good) changed.push_back(r);
      it->second = r.outcome.good;
    }
    if (!changed.empty())
      print_reports(changed, output_ == Output::kJson ? Output::kJsonl : output_);
  }

 private:
  Output output_;
  std::map<std::string, bool> last_;
};

int run_forever(Prober& prober, const ProbeFlags& f, std::chrono::milliseconds interval,
                Output output) {
  asio::io_context io;
  ProbeBook book(std::chrono::duration_cast<std::chrono::seconds>(interval));
  auto where = derp::main::parse_listen_address(f.listen);
  derp::http::MetricsListener listener(
      io, where.host, where.port,
      derp::http::MetricsPages{.flag = "--listen",
                               .title = "derpctl probe",
                               .metrics = [&] { return book.metrics_text(); },
                               .healthz = [] { return std::string("ok\n"); }});
  std::cerr << "derpctl probe: every " << f.interval << ", metrics on " << listener.describe()
            << " and /healthz" << std::endl;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) io.stop();
  });
  ChangePrinter printer(output);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer next(io);
        auto at = std::chrono::steady_clock::now();
        for (;;) {
          // A round reports its failures as bad probes; anything else that escapes it must not
          // end the loop and leave the metrics stale.
          std::vector<ProbeReport> reports;
          try {
            reports = co_await prober.round(&book);
          } catch (const std::exception& e) {
            std::cerr << "derpctl probe: round failed: " << e.what() << std::endl;
          }
          printer.print(reports);
          at += interval;
          next.expires_at(at);
          co_await next.async_wait(asio::use_awaitable);
        }
      },
      asio::detached);
  io.run();
  return kOk;
}

}  // namespace

void add_probe_command(CLI::App& app, Globals& g, Action& action) {
  auto flags = std::make_shared<ProbeFlags>();
  auto* cmd = app.add_subcommand(
      "probe",
      "Check DERP nodes as derpprobe does: tls, udp (STUN), mesh, bw, qd.\n"
      "Does not use the admin API: it connects to the nodes as a Tailscale client would.\n"
      "--once prints good:/bad: lines and exits 3 when any probe failed; without it, it probes\n"
      "every --interval and serves derpprobe's metrics at http://LISTEN/metrics and /healthz.");
  auto* map_opt = cmd->add_option("--derp-map", flags->derp_map,
                                  "DERP map to probe: a file, file://PATH or http(s):// URL "
                                  "(fetched again every interval)");
  auto* node_opt = cmd->add_option("--node", flags->node,
                                   "Probe one node instead: https://HOST[:PORT], or "
                                   "http://HOST:PORT for a plain-HTTP dev node");
  map_opt->excludes(node_opt);
  cmd->add_option("--stun-port", flags->stun_port, "With --node: its STUN port (-1: none)")
      ->capture_default_str();
  cmd->add_option("--region", flags->region, "Only this region (RegionCode or RegionID)");
  cmd->add_option("--probes", flags->probes, "Which probes: any of tls,udp,mesh,bw,qd")
      ->capture_default_str();
  cmd->add_option("--mesh-psk-file", flags->mesh_psk_file,
                  "The region's mesh key: probe clients present it, and the node-to-itself mesh "
                  "probe checks that the node accepts it");
  cmd->add_option("--ca-file", flags->ca_file,
                  "Extra CA (PEM) to trust, besides the system store and $SSL_CERT_FILE");
  cmd->add_option("--bw-size", flags->bw_size,
                  "Bytes per bw probe (packets of 64 KiB, 30 in flight)")
      ->capture_default_str();
  cmd->add_option("--qd-rate", flags->qd_rate, "qd probe: 260-byte packets per second")
      ->capture_default_str();
  cmd->add_option("--qd-duration", flags->qd_duration, "qd probe: how long each run sends")
      ->capture_default_str();
  cmd->add_option("--qd-packet-timeout", flags->qd_packet_timeout,
                  "qd probe: a packet later than this counts as lost")
      ->capture_default_str();
  cmd->add_option("--interval", flags->interval,
                  "How often to probe; each probe may take 0.8 of it")
      ->capture_default_str();
  cmd->add_flag("--once", flags->once, "Probe once, print the results, exit 3 if any failed");
  cmd->add_option("--listen", flags->listen,
                  "Without --once: address for /metrics and /healthz (HOST:PORT)")
      ->capture_default_str();
  cmd->callback([&g, &action, flags] {
    action = [&g, flags]() -> int {
      if (flags->derp_map.empty() && flags->node.empty()) {
        throw CommandError("say what to probe: --derp-map FILE|URL or --node URL", kUsage);
      }
      ProbeSelection selection;
      if (auto why = parse_probe_list(flags->probes, selection); !why.empty()) {
        throw CommandError("--probes: " + why, kUsage);
      }
      selection.region = flags->region;
      if (!flags->node.empty()) {
        if (auto single = single_node_map(flags->node, flags->stun_port); !single.error.empty()) {
          throw CommandError(single.error, kUsage);
        }
      }
      const auto interval = duration_flag(flags->interval, "--interval");
      ProbeOptions options;
      options.timeout = interval * 4 / 5;
      options.ca_file = flags->ca_file;
      options.bw_size = flags->bw_size;
      options.qd_packets_per_second = flags->qd_rate;
      options.qd_duration = duration_flag(flags->qd_duration, "--qd-duration");
      options.qd_packet_timeout = duration_flag(flags->qd_packet_timeout, "--qd-packet-timeout");
      if (flags->qd_rate <= 0) throw CommandError("--qd-rate must be above 0", kUsage);
      // A qd run sends for --qd-duration, then waits up to --qd-packet-timeout for the last
      // packets: both must fit in the probe's time.
      if (selection.queue_delay &&
          options.qd_duration + options.qd_packet_timeout >= options.timeout) {
        throw CommandError(
            "--qd-duration + --qd-packet-timeout must be shorter than 0.8 × "
            "--interval (" +
                std::to_string(options.timeout.count()) + " ms), the probe's time",
            kUsage);
      }
      if (!flags->mesh_psk_file.empty()) {
        options.mesh_key = derp::main::read_mesh_key_file(flags->mesh_psk_file);
      }
      Prober prober(*flags, selection, options);
      return flags->once ? run_once(prober, g.output)
                         : run_forever(prober, *flags, interval, g.output);
    };
  });
}

}  // namespace derpctl
