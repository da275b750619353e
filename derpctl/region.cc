// derpctl region status: every node of a region in one table, and the mesh links pairwise.
#include <CLI/CLI.hpp>

#include <iostream>

#include "derpctl/admin_connection.h"
#include "derpctl/output.h"
#include "derpctl/region_health.h"
#include "derpctl/rollout.h"
#include "derpctl/state_text.h"

namespace derpctl {

namespace {

int run_region_status(const Globals& g, const std::vector<std::string>& nodes) {
  auto reports = ask_region(g, nodes);
  const bool healthy = region_problem(reports).empty();
  if (g.output != Output::kTable) {
    auto arr = nlohmann::json::array();
    for (const auto& r : reports) {
      nlohmann::json j;
      j["admin"] = r.admin;
      if (r.status) j["status"] = to_json(*r.status);
      auto links = nlohmann::json::array();
      if (r.mesh) {
        for (const auto& l : r.mesh->links()) links.push_back(to_json(l));
      }
      j["mesh"] = links;
      j["error"] = r.error;
      arr.push_back(j);
    }
    if (g.output == Output::kJson) {
      std::cout << nlohmann::json{{"healthy", healthy}, {"nodes", arr}}.dump(2) << '\n';
    } else {
      for (const auto& j : arr) std::cout << j.dump() << '\n';
    }
    return healthy ? kOk : kCheckFailed;
  }
  Table t({"NODE", "KEY", "STATE", "CLIENTS", "HOME", "MESH LINKS UP", "UPTIME"});
  for (const auto& r : reports) {
    if (!r.status) {
      t.add({r.admin, "-", "unreachable", "-", "-", "-", "-"});
      continue;
    }
    const auto& st = *r.status;
    std::size_t up = 0, total = 0;
    if (r.mesh) {
      for (const auto& l : r.mesh->links()) {
        if (!counts_for_health(l)) continue;
        ++total;
        up += l.state() == pb::MESH_LINK_STATE_UP ? 1 : 0;
      }
    }
    t.add({r.admin, short_key(st.node_key()), drain_state_text(st.drain().state()),
           std::to_string(st.clients()), std::to_string(st.home_clients()),
           std::to_string(up) + "/" + std::to_string(total),
           format_seconds(st.uptime().seconds())});
  }
  t.print(std::cout);
  bool any_links = false;
  for (const auto& r : reports) any_links = any_links || (r.mesh && r.mesh->links_size() > 0);
  if (any_links) {
    std::cout << '\n';
    Table links({"FROM", "TO", "STATE", "SINCE", "RECONNECTS", "PRESENT", "LAST ERROR"});
    for (const auto& r : reports) {
      if (!r.mesh) continue;
      for (const auto& l : r.mesh->links()) {
        links.add({r.admin, l.peer(), mesh_link_state_text(l.state()), format_age(l.since()),
                   std::to_string(l.reconnects()), std::to_string(l.peer_present_count()),
                   l.last_error().empty() ? "-" : l.last_error()});
      }
    }
    links.print(std::cout);
  }
  for (const auto& r : reports) {
    if (!r.error.empty()) std::cerr << "derpctl: " << r.admin << ": " << r.error << '\n';
  }
  return healthy ? kOk : kCheckFailed;
}

}  // namespace

void add_region_commands(CLI::App& app, Globals& g, Action& action) {
  auto* region = app.add_subcommand("region", "Every node of a region at once");
  region->require_subcommand(1);
  auto nodes = std::make_shared<std::vector<std::string>>();
  auto* status = region->add_subcommand(
      "status",
      "Each node's state and clients, and the mesh links pairwise. Exit 3 when a node "
      "is unreachable or a mesh link is not up");
  status->add_option("--node", *nodes, "Admin address of a node (unix:PATH or HOST:PORT); repeat")
      ->required();
  status->callback(
      [&g, &action, nodes] { action = [&g, nodes] { return run_region_status(g, *nodes); }; });
  add_rollout_command(*region, g, action);
}

}  // namespace derpctl
