// derpctl mesh: the node's links to its region's siblings.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

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

int run_change(const Globals& g, const std::string& peer, bool add) {
  AdminConnection conn(g, g.admin);
  pb::MeshPeerRequest req;
  req.set_peer(peer);
  pb::MeshPeersResponse resp;
  auto ctx = conn.context();
  conn.check(add ? conn.stub().AddMeshPeer(ctx.get(), req, &resp)
                 : conn.stub().RemoveMeshPeer(ctx.get(), req, &resp),
             add ? "AddMeshPeer" : "RemoveMeshPeer");
  if (g.output != Output::kTable) {
    nlohmann::json j;
    j["peers"] = std::vector<std::string>(resp.peers().begin(), resp.peers().end());
    j["persisted_to"] = resp.persisted_to();
    j["note"] = resp.note();
    std::cout << (g.output == Output::kJson ? j.dump(2) : j.dump()) << '\n';
    return kOk;
  }
  std::cout << (add ? "added " : "removed ") << peer << "; siblings now: ";
  if (resp.peers().empty()) std::cout << "none";
  for (int i = 0; i < resp.peers_size(); ++i) std::cout << (i ? ", " : "") << resp.peers(i);
  std::cout << '\n';
  if (!resp.persisted_to().empty()) std::cout << "saved to " << resp.persisted_to() << '\n';
  if (!resp.note().empty()) std::cout << "note: " << resp.note() << '\n';
  if (add) std::cout << "check the link with: derpctl mesh\n";
  return kOk;
}

}  // namespace

void add_mesh_commands(CLI::App& app, Globals& g, Action& action) {
  auto* cmd = app.add_subcommand(
      "mesh",
      "Show the health of each mesh link to a sibling; add or remove siblings while the node runs");
  cmd->callback([cmd, &g, &action] {
    if (cmd->get_subcommands().empty()) action = [&g] { return run_mesh(g); };
  });
  auto peer = std::make_shared<std::string>();
  auto* add = cmd->add_subcommand(
      "add",
      "Link this node to one more sibling of its region, without a restart. Run it on every "
      "node of the region (and start the new node with the others in its --mesh-with). Saved "
      "to the node's --mesh-with-file if it has one");
  add->add_option("peer", *peer,
                  "The sibling, as a --mesh-with entry: host, host:port, "
                  "host/dialhost or http://host:port")
      ->required();
  add->callback(
      [&g, &action, peer] { action = [&g, peer] { return run_change(g, *peer, true); }; });
  auto* remove = cmd->add_subcommand(
      "remove",
      "Unlink a sibling: its link stops and the clients it announced are gone from this node "
      "(PeerGone). Saved to --mesh-with-file if the node has one");
  remove->add_option("peer", *peer, "The sibling as listed by derpctl mesh")->required();
  remove->callback(
      [&g, &action, peer] { action = [&g, peer] { return run_change(g, *peer, false); }; });
}

}  // namespace derpctl
