// derpctl limits: the node's connection limits (--max-connections, --max-connections-per-ip,
// --accept-connection-limit/-burst), what they refused, and changing them without a restart.
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>
#include <optional>

#include "derpctl/admin_connection.h"
#include "derpctl/limits_text.h"
#include "derpctl/output.h"

namespace derpctl {

namespace {

struct SetArgs {
  std::optional<std::uint64_t> max_connections, max_per_ip, burst;
  std::optional<double> rate;
};

void print_limits(const Globals& g, const pb::ConnectionLimits& l) {
  if (g.output != Output::kTable) {
    std::cout << to_json(l).dump(g.output == Output::kJson ? 2 : -1) << '\n';
    return;
  }
  Table t({"LIMIT", "VALUE"});
  t.add({"max connections", limit_text(l.max_connections())});
  t.add({"max connections per ip", limit_text(l.max_connections_per_ip())});
  t.add({"accept rate", accept_rate_text(l)});
  t.add({"open", std::to_string(l.open()) + " from " + std::to_string(l.source_ips()) +
                     " addresses, + " + std::to_string(l.open_exempt()) + " exempt"});
  t.add({"accepted", std::to_string(l.accepted())});
  t.add({"refused", refused_text(l)});
  t.add({"file descriptors", l.descriptor_limit() == 0
                                 ? std::string("unlimited")
                                 : std::to_string(l.descriptor_limit()) + " (" +
                                       std::to_string(l.descriptor_reserve()) +
                                       " kept from clients)"});
  std::string exempt;
  for (const auto& e : l.exempt()) exempt += (exempt.empty() ? "" : ", ") + e;
  t.add({"exempt", exempt.empty() ? "-" : exempt});
  t.print(std::cout);
}

int run_show(const Globals& g) {
  AdminConnection conn(g, g.admin);
  pb::NodeStatus st;
  auto ctx = conn.context();
  conn.check(conn.stub().GetNodeStatus(ctx.get(), {}, &st), "GetNodeStatus");
  print_limits(g, st.limits());
  return kOk;
}

int run_set(const Globals& g, const SetArgs& a) {
  pb::SetConnectionLimitsRequest req;
  if (a.max_connections) req.set_max_connections(*a.max_connections);
  if (a.max_per_ip) req.set_max_connections_per_ip(*a.max_per_ip);
  if (a.rate) req.set_accept_rate(*a.rate);
  if (a.burst) req.set_accept_burst(*a.burst);
  if (!a.max_connections && !a.max_per_ip && !a.rate && !a.burst) {
    throw CommandError(
        "nothing to set: give --max-connections, --max-per-ip, --accept-rate or --accept-burst",
        kUsage);
  }
  AdminConnection conn(g, g.admin);
  pb::ConnectionLimits out;
  auto ctx = conn.context();
  conn.check(conn.stub().SetConnectionLimits(ctx.get(), req, &out), "SetConnectionLimits");
  print_limits(g, out);
  return kOk;
}

}  // namespace

void add_limits_commands(CLI::App& app, Globals& g, Action& action) {
  auto* limits = app.add_subcommand(
      "limits",
      "Connection limits: show them and what they refused, or change them with `limits set`");
  limits->callback([&] {
    if (!action) action = [&] { return run_show(g); };
  });
  static SetArgs args;
  auto* set = limits->add_subcommand(
      "set",
      "Change limits at run time (until the next restart; make them permanent with derpd's "
      "flags). Applies to new connections; open ones are kept. 0 means no limit");
  set->add_option("--max-connections", args.max_connections,
                  "Most connections open at once (derpd --max-connections)");
  set->add_option("--max-per-ip", args.max_per_ip,
                  "Most connections from one address (derpd --max-connections-per-ip)");
  set->add_option("--accept-rate", args.rate,
                  "Connections accepted per second (derpd --accept-connection-limit; 0: none)")
      ->check(CLI::NonNegativeNumber);
  set->add_option("--accept-burst", args.burst,
                  "Burst above the accept rate (derpd --accept-connection-burst)")
      ->check(CLI::PositiveNumber);
  set->callback([&] { action = [&] { return run_set(g, args); }; });
}

}  // namespace derpctl
