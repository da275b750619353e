// The core's view of a mesh link: somewhere to send packets for keys that live on a sibling.
#pragma once

#include <string_view>

#include "relay/protocol/frame.h"

namespace derp::server {

// Where a mesh link to a sibling stands. A link that turned out to reach its own node (the
// sibling list names this node under another name) is kSelf: it is no link at all, and region
// health does not count it.
enum class MeshLinkState { kConnecting, kUp, kBackoff, kSelf, kStopped };

constexpr std::string_view to_string(MeshLinkState s) {
  switch (s) {
    case MeshLinkState::kConnecting:
      return "connecting";
    case MeshLinkState::kUp:
      return "up";
    case MeshLinkState::kBackoff:
      return "backoff";
    case MeshLinkState::kSelf:
      return "self";
    case MeshLinkState::kStopped:
      return "stopped";
  }
  return "unknown";
}

class MeshForwarder {
 public:
  virtual ~MeshForwarder() = default;
  // Queues ForwardPacket(src, dst, packet) to the sibling. Called on any worker thread; must not
  // block. Forwarding is best effort (protocol §5.3): a full or broken link drops the packet.
  virtual void forward(const protocol::NodePublic& src, const protocol::NodePublic& dst,
                       protocol::Bytes packet) = 0;
};

}  // namespace derp::server
