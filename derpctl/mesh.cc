// derpctl mesh: the node's links to its region's siblings.
#include <CLI/CLI.hpp>

#include <iostream>

#include "derpctl/admin_connection.h"
#include "derpctl/output.h"
#include "derpctl/state_text.h"

namespace derpctl {
namespace {

int run_mesh(const Globals& g) {
  AdminConnection conn(g, g.admin);
  pb::GetMeshResponse resp;
  auto ctx = conn.context();
  conn.check(conn.stub().GetMesh(ctx.get(), {}, &resp), "GetMesh");
  if (g.output == Output::kJson) {
    auto arr = nlohmann::json::array();
    for (const auto& l : resp.links()) arr.push_back(to_json(l));
    std::cout << arr.dump(2) << '\n';
    return kOk;
  }
  if (g.output == Output::kJsonl) {
    for (const auto& l : resp.links()) std::cout << to_json(l).dump() << '\n';
    return kOk;
  }
  if (resp.links().empty()) {
    std::cout << "no mesh links (the node has no --mesh-with siblings)\n";
    return kOk;
  }
  Table t({"PEER", "STATE", "SINCE", "RECONNECTS", "PRESENT", "PKTS OUT", "PKTS IN", "LAST ERROR"});
  for (const auto& l : resp.links()) {
    t.add({l.peer(), mesh_link_state_text(l.state()), format_age(l.since()),
           std::to_string(l.reconnects()), std::to_string(l.peer_present_count()),
           std::to_string(l.packets_out()), std::to_string(l.packets_in()),
           l.last_error().empty() ? "-" : l.last_error()});
  }
  t.print(std::cout);
  return kOk;
}

}  // namespace

void add_mesh_commands(CLI::App& app, Globals& g, Action& action) {
  auto* cmd = app.add_subcommand("mesh", "Show the health of each mesh link to a sibling");
  cmd->callback([&] { action = [&] { return run_mesh(g); }; });
}

}  // namespace derpctl
