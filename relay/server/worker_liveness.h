// Is every worker's event loop still turning? A healthy worker ticks every tick_interval(); one
// whose last tick is long overdue is stuck in a handler, and a node with a stuck worker strands
// its share of clients while still answering on the others. The systemd watchdog keep-alive is
// only sent while this finds nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace derp::server {

class Server;

struct StalledWorker {
  std::uint32_t index = 0;
  std::chrono::milliseconds since_last_tick{0};
};

// The first worker whose last tick is older than its tick interval plus `slack`.
std::optional<StalledWorker> find_stalled_worker(
    Server& server, std::chrono::steady_clock::time_point now,
    std::chrono::milliseconds slack = std::chrono::seconds(5));

}  // namespace derp::server
