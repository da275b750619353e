#include "derpctl/region_health.h"

#include "derpctl/state_text.h"

namespace derpctl {

NodeReport ask(const Globals& g, const std::string& admin) {
  NodeReport r;
  r.admin = admin;
  try {
    AdminConnection conn(g, admin);
    pb::NodeStatus st;
    auto ctx = conn.context();
    auto s = conn.stub().GetNodeStatus(ctx.get(), {}, &st);
    if (!s.ok()) {
      r.error = conn.describe_error(s, "GetNodeStatus");
      return r;
    }
    r.status = st;
    pb::GetMeshResponse mesh;
    auto ctx2 = conn.context();
    s = conn.stub().GetMesh(ctx2.get(), {}, &mesh);
    if (!s.ok()) {
      r.error = conn.describe_error(s, "GetMesh");
      return r;
    }
    r.mesh = mesh;
  } catch (const CommandError& e) {
    r.error = e.what();
  }
  return r;
}

std::vector<NodeReport> ask_region(const Globals& g, const std::vector<std::string>& admins) {
  std::vector<NodeReport> reports;
  for (const auto& a : admins) reports.push_back(ask(g, a));
  return reports;
}

std::string region_problem(const std::vector<NodeReport>& reports) {
  for (const auto& r : reports) {
    if (!r.error.empty()) return r.admin + ": " + r.error;
    if (!r.mesh) continue;
    for (const auto& l : r.mesh->links()) {
      if (counts_for_health(l) && l.state() != pb::MESH_LINK_STATE_UP) {
        return r.admin + ": mesh link to " + l.peer() + " is " + mesh_link_state_text(l.state());
      }
    }
  }
  return "";
}

}  // namespace derpctl
