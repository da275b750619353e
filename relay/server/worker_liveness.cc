#include "relay/server/worker_liveness.h"

#include "relay/server/server.h"
#include "relay/server/worker.h"

namespace derp::server {

std::optional<StalledWorker> find_stalled_worker(Server& server,
                                                 std::chrono::steady_clock::time_point now,
                                                 std::chrono::milliseconds slack) {
  for (std::size_t i = 0; i < server.worker_count(); ++i) {
    const Worker& w = server.worker(i);
    auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - w.last_tick());
    if (age > w.tick_interval() + slack) return StalledWorker{w.index(), age};
  }
  return std::nullopt;
}

}  // namespace derp::server
