// derpctl status: one node at a glance.
#include <CLI/CLI.hpp>

#include <iostream>

#include "derpctl/admin_connection.h"
#include "derpctl/cert.h"
#include "derpctl/limits_text.h"
#include "derpctl/output.h"
#include "derpctl/state_text.h"

namespace derpctl {

namespace {

int run_status(const Globals& g) {
  AdminConnection conn(g, g.admin);
  pb::NodeStatus st;
  auto ctx = conn.context();
  conn.check(conn.stub().GetNodeStatus(ctx.get(), {}, &st), "GetNodeStatus");
  if (g.output != Output::kTable) {
    std::cout << to_json(st).dump(g.output == Output::kJson ? 2 : -1) << '\n';
    return kOk;
  }
  Table t({"FIELD", "VALUE"});
  t.add({"node key", st.node_key()});
  t.add({"version", st.version()});
  t.add({"uptime",
         format_seconds(st.uptime().seconds()) + " (since " + format_time(st.started_at()) + ")"});
  std::string state = drain_state_text(st.drain().state());
  if (st.drain().state() != pb::DRAIN_STATE_SERVING) {
    state += " (closed " + std::to_string(st.drain().closed()) + ", " +
             std::to_string(st.drain().remaining()) + " remaining, deadline " +
             format_time(st.drain().deadline()) + ")";
  }
  t.add({"state", state});
  for (const auto& l : st.listeners()) t.add({"listener " + l.kind(), l.address()});
  if (st.has_tls()) add_cert_rows(st.tls(), t);
  for (const auto& ip_cert : st.ip_tls()) add_cert_rows(ip_cert, t);
  std::string workers = std::to_string(st.workers());
  if (st.workers_active() > 0 && st.workers_active() < st.workers()) {
    workers += " (" + std::to_string(st.workers_active()) +
               " carrying clients now: worker packing keeps a light load on few workers)";
  }
  t.add({"workers", workers});
  t.add({"clients", std::to_string(st.clients()) + " (" + std::to_string(st.home_clients()) +
                        " home, " + std::to_string(st.mesh_peers()) + " mesh peers)"});
  t.add({"known keys", std::to_string(st.known_keys())});
  if (st.has_limits()) {
    const auto& l = st.limits();
    t.add({"connection limits", "max " + limit_text(l.max_connections()) + ", per IP " +
                                    limit_text(l.max_connections_per_ip()) + ", accept rate " +
                                    accept_rate_text(l)});
    t.add({"connections refused", refused_text(l)});
  }
  t.add({"packets in/out",
         std::to_string(st.packets_received()) + " / " + std::to_string(st.packets_sent())});
  t.add(
      {"bytes in/out", format_bytes(st.bytes_received()) + " / " + format_bytes(st.bytes_sent())});
  t.add({"packets dropped", std::to_string(st.packets_dropped())});
  t.print(std::cout);
  return kOk;
}

}  // namespace

void add_status_commands(CLI::App& app, Globals& g, Action& action) {
  auto* cmd = app.add_subcommand("status",
                                 "Show the node: key, version, listeners, certificate, "
                                 "counts and drain state");
  cmd->callback([&] { action = [&] { return run_status(g); }; });
}

}  // namespace derpctl
