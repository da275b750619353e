#include "derpctl/state_text.h"

namespace derpctl {

std::string drain_state_text(pb::DrainState s) {
  switch (s) {
    case pb::DRAIN_STATE_SERVING:
      return "serving";
    case pb::DRAIN_STATE_DRAINING:
      return "draining";
    case pb::DRAIN_STATE_DRAINED:
      return "drained";
    default:
      return "unknown";
  }
}

std::string mesh_link_state_text(pb::MeshLinkState s) {
  switch (s) {
    case pb::MESH_LINK_STATE_CONNECTING:
      return "connecting";
    case pb::MESH_LINK_STATE_UP:
      return "up";
    case pb::MESH_LINK_STATE_BACKOFF:
      return "backoff";
    case pb::MESH_LINK_STATE_SELF:
      return "self";
    case pb::MESH_LINK_STATE_STOPPED:
      return "stopped";
    default:
      return "unknown";
  }
}

}  // namespace derpctl
