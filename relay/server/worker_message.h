// What one worker asks of another. Messages travel through the target worker's inbox and are
// handled on its thread, where the named connection lives (or has gone: then they are dropped).
#pragma once

#include <functional>
#include <string>
#include <variant>

#include "relay/protocol/frame.h"
#include "relay/server/packet_pool.h"

namespace derp::server {

struct DeliverPacket {
  std::uint64_t conn_id;
  PacketRef frame;  // a complete RecvPacket frame
  // Passed on by a worker the connection had left: routed before the registry named its new
  // worker, so older than any packet routed there since (ClientSession::move_settled).
  bool forwarded = false;
};
struct SendPeerGone {
  std::uint64_t conn_id;
  protocol::NodePublic key;
  protocol::PeerGoneReason reason;
};
struct SendPeerPresent {
  std::uint64_t conn_id;
  protocol::PeerPresentFrame presence;
};
// Tells subscribed connections on the worker that `key` left the region (protocol §4.5).
struct PeerGoneFromRegion {
  protocol::NodePublic key;
};
// The one way to close a connection from another thread (ClosePeer, derpctl client close): the
// reason is what the log and the admin API's disconnect event say.
struct CloseConnection {
  std::uint64_t conn_id;
  std::string reason;
};
// Every message routed to the worker a connection left has now been passed on to it
// (ClientSession::arrive sends this round the old worker's inbox).
struct MoveSettled {
  std::uint64_t conn_id;
};
struct RunOnWorker {
  std::function<void()> fn;
};

using WorkerMessage = std::variant<DeliverPacket, SendPeerGone, SendPeerPresent, PeerGoneFromRegion,
                                   CloseConnection, MoveSettled, RunOnWorker>;

}  // namespace derp::server
