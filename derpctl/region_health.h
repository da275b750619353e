// What derpctl knows of a region's health: each node's status and mesh links over the admin API.
// region status prints it; region rollout checks it before and after each node.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "derpctl/admin_connection.h"

namespace derpctl {

struct NodeReport {
  std::string admin;
  std::optional<pb::NodeStatus> status;
  std::optional<pb::GetMeshResponse> mesh;
  std::string error;  // why the node could not be asked
};

NodeReport ask(const Globals& g, const std::string& admin);
std::vector<NodeReport> ask_region(const Globals& g, const std::vector<std::string>& admins);

// "" when every node answered and every mesh link that counts is up; otherwise the first
// problem, e.g. "unix:/run/derpd/admin.sock: mesh link to derp2.example.com is backoff".
std::string region_problem(const std::vector<NodeReport>& reports);

}  // namespace derpctl
