#include "relay/systemd/status_line.h"

namespace derp::systemd {

namespace {
std::string clients_text(std::int64_t n) {
  return std::to_string(n) + (n == 1 ? " client" : " clients");
}
}  // namespace

std::string status_line(const NodeStatusFacts& f) {
  std::string out = f.shutting_down ? "shutting down: " : "";
  switch (f.drain) {
    case server::DrainState::kServing:
      out += "serving " + clients_text(f.clients);
      break;
    case server::DrainState::kDraining:
      out += "draining, " + clients_text(static_cast<std::int64_t>(f.drain_remaining)) + " left";
      break;
    case server::DrainState::kDrained:
      out += "drained (refusing new clients), " + clients_text(f.clients);
      break;
  }
  if (f.mesh_links > 0) {
    out += ", mesh " + std::to_string(f.mesh_links_up) + "/" + std::to_string(f.mesh_links) +
           " links up";
  }
  return out;
}

}  // namespace derp::systemd
