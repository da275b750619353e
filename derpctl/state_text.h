// The words derpctl's tables use for the admin API's enums (JSON output keeps the enum names).
#pragma once

#include <string>

#include "derpctl/admin_connection.h"

namespace derpctl {

std::string drain_state_text(pb::DrainState s);         // "serving", "draining", "drained"
std::string mesh_link_state_text(pb::MeshLinkState s);  // "up", "connecting", "backoff", …
// Whether a link counts for region health: a link that reaches its own node is no link at all.
inline bool counts_for_health(const pb::MeshLinkHealth& l) {
  return l.state() != pb::MESH_LINK_STATE_SELF;
}

}  // namespace derpctl
