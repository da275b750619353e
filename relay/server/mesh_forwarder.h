// The core's view of a mesh link: somewhere to send packets for keys that live on a sibling.
#pragma once

#include "relay/protocol/frame.h"

namespace derp::server {

class MeshForwarder {
 public:
  virtual ~MeshForwarder() = default;
  // Queues ForwardPacket(src, dst, packet) to the sibling. Called on any worker thread; must not
  // block. Forwarding is best effort (spec §5.3): a full or broken link drops the packet.
  virtual void forward(const protocol::NodePublic& src, const protocol::NodePublic& dst,
                       protocol::Bytes packet) = 0;
};

}  // namespace derp::server
