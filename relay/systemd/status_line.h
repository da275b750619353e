// The one-line summary derpd gives systemd (`systemctl status derpd` shows it): what an operator
// checks first. A pure function of the node's numbers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "relay/server/drain_controller.h"

namespace derp::systemd {

struct NodeStatusFacts {
  std::int64_t clients = 0;  // established connections, mesh peers included
  std::size_t mesh_links = 0;
  std::size_t mesh_links_up = 0;
  server::DrainState drain = server::DrainState::kServing;
  std::size_t drain_remaining = 0;
  bool shutting_down = false;  // SIGTERM: the drain ends in an exit
};

// "serving 12 clients, mesh 2/2 links up"; "shutting down: draining, 40 clients left, …".
std::string status_line(const NodeStatusFacts& facts);

}  // namespace derp::systemd
