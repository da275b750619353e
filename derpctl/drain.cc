// derpctl drain / undrain: take a node out of service without losing its clients, and back.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <optional>

#include "derpctl/admin_connection.h"
#include "derpctl/duration_arg.h"
#include "derpctl/output.h"
#include "derpctl/state_text.h"

namespace derpctl {

namespace {

struct DrainArgs {
  std::string deadline = "5m";
  std::string interval;
  std::uint32_t batch = 0;
  std::optional<double> rate;
  bool no_wait = false;
  bool no_restarting = false;
  bool stop_stun = false;
};

int run_drain(const Globals& g, const DrainArgs& a) {
  pb::DrainRequest req;
  auto deadline = parse_duration(a.deadline);
  if (!deadline) {
    throw CommandError("--deadline " + a.deadline + ": expected a duration like 5m, 90s or 500ms",
                       kUsage);
  }
  set_duration(*req.mutable_deadline(), *deadline);
  if (!a.interval.empty()) {
    auto interval = parse_duration(a.interval);
    if (!interval) {
      throw CommandError("--interval " + a.interval + ": expected a duration like 1s or 100ms",
                         kUsage);
    }
    set_duration(*req.mutable_interval(), *interval);
  }
  req.set_batch_size(a.batch);
  if (a.rate) req.set_clients_per_second(*a.rate);
  req.set_send_restarting(!a.no_restarting);
  req.set_stop_stun(a.stop_stun);

  AdminConnection conn(g, g.admin);
  auto ctx = conn.context(true);
  auto reader = conn.stub().Drain(ctx.get(), req);
  const bool tty = g.output == Output::kTable && ::isatty(STDOUT_FILENO);
  auto started = std::chrono::steady_clock::now();
  pb::DrainProgress p;
  std::optional<pb::DrainProgress> last;
  while (reader->Read(&p)) {
    last = p;
    if (g.output == Output::kJsonl) {
      std::cout << to_json(p).dump() << std::endl;
    } else if (g.output == Output::kTable) {
      if (tty) {
        std::cout << "\r\033[K" << p.message() << std::flush;
      } else {
        std::cout << p.message() << std::endl;
      }
    }
    if (a.no_wait) {
      ctx->TryCancel();
      break;
    }
  }
  auto status = reader->Finish();
  if (tty) std::cout << '\n';
  if (a.no_wait && last) {
    if (g.output == Output::kJson) std::cout << to_json(*last).dump(2) << '\n';
    if (g.output == Output::kTable) {
      std::cout << "drain started; follow it with `derpctl status` or `derpctl drain`\n";
    }
    return kOk;
  }
  conn.check(status, "Drain");
  if (!last) throw CommandError("Drain ended without reporting progress");
  if (g.output == Output::kJson) std::cout << to_json(*last).dump(2) << '\n';
  if (g.output == Output::kTable) {
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    char took[32];
    std::snprintf(took, sizeof took, "%.1f", secs);
    std::cout << "node drained in " << took << " s: closed " << last->status().closed()
              << " connection(s); `derpctl undrain` puts it back in service\n";
  }
  return kOk;
}

int run_undrain(const Globals& g) {
  AdminConnection conn(g, g.admin);
  pb::UndrainResponse resp;
  auto ctx = conn.context();
  conn.check(conn.stub().Undrain(ctx.get(), {}, &resp), "Undrain");
  if (g.output != Output::kTable) {
    std::cout << to_json(resp).dump(g.output == Output::kJson ? 2 : -1) << '\n';
  } else {
    std::cout << "node is " << drain_state_text(resp.status().state())
              << ": accepting DERP connections again\n";
  }
  return kOk;
}

}  // namespace

void add_drain_commands(CLI::App& app, Globals& g, Action& action) {
  auto a = std::make_shared<DrainArgs>();
  auto* drain = app.add_subcommand(
      "drain",
      "Take the node out of service without dropping the region's traffic: it stops accepting "
      "(connects are refused, so Tailscale clients move to the next node of their region), then "
      "its clients leave in paced batches, mesh peers last. Blocks until drained unless "
      "--no-wait");
  drain->add_option("--deadline", a->deadline, "Every client is closed by then")
      ->capture_default_str();
  drain
      ->add_option("--rate", a->rate,
                   "Clients per second sent to the siblings (default: derpd's --drain-rate, "
                   "500); 0 sends everyone at once")
      ->check(CLI::NonNegativeNumber);
  drain->add_option("--batch", a->batch, "Clients per interval instead of --rate");
  drain->add_option("--interval", a->interval, "Time between batches (default 100ms)");
  drain->add_flag("--no-wait", a->no_wait, "Start the drain and return at once");
  drain->add_flag("--no-restarting", a->no_restarting,
                  "Do not send clients Restarting (sent by default for clients that honour it; "
                  "nobody waits for it)");
  drain->add_flag("--stop-stun", a->stop_stun, "Stop answering STUN while drained");
  drain->callback([&g, &action, a] { action = [&g, a] { return run_drain(g, *a); }; });

  auto* undrain = app.add_subcommand("undrain", "Put a drained (or draining) node back in service");
  undrain->callback([&g, &action] { action = [&g] { return run_undrain(g); }; });
}

}  // namespace derpctl
