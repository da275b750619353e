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

// Snapshots of every session on every worker. Completes once each worker has answered.
std::future<std::vector<SessionSnapshot>> collect_sessions(Server& server);
// Snapshots of the given connections (those still established), each taken on its own worker.
std::future<std::vector<SessionSnapshot>> snapshot_connections(Server& server,
                                                               const std::vector<ConnRef>& refs);
// Closes every connection of `key`; returns how many there were.
std::size_t close_client(Server& server, const protocol::NodePublic& key, std::string reason);

}  // namespace derp::server
