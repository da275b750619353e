// Read and control operations for the admin API, answered by the workers themselves (each builds
// a snapshot of its own sessions on its own thread) so the data path never takes a global lock.
#pragma once

#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "relay/server/client_session.h"
#include "relay/server/conn_ref.h"
#include "relay/server/server.h"

namespace derp::server {

// Snapshots of every established session on every worker; nullopt when some worker did not
// answer within `limit`.
std::optional<std::vector<SessionSnapshot>> collect_sessions(Server& server,
                                                             std::chrono::milliseconds limit);
// Snapshots of the given connections (those still established), each taken on its own worker.
std::optional<std::vector<SessionSnapshot>> snapshot_connections(Server& server,
                                                                 const std::vector<ConnRef>& refs,
                                                                 std::chrono::milliseconds limit);
// Gives every connected client (or only those of `key`) its receive limit as the RatePolicy says
// now, with a fresh bucket (mesh peers stay unlimited); returns how many connections it went
// through, or nullopt when some worker did not answer within `limit`.
std::optional<std::size_t> apply_receive_rates(Server& server,
                                               std::optional<protocol::NodePublic> only,
                                               std::chrono::milliseconds limit);
// Closes every connection of `key`; returns how many there were.
std::size_t close_client(Server& server, const protocol::NodePublic& key, std::string reason);

}  // namespace derp::server
