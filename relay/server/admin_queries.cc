#include "relay/server/admin_queries.h"

#include <iterator>

#include "relay/server/ask_workers.h"

namespace derp::server {

namespace {

std::vector<SessionSnapshot> flatten(std::vector<std::vector<SessionSnapshot>> per_worker) {
  std::vector<SessionSnapshot> all;
  for (auto& mine : per_worker) {
    all.insert(all.end(), std::make_move_iterator(mine.begin()),
               std::make_move_iterator(mine.end()));
  }
  return all;
}

}  // namespace

std::optional<std::vector<SessionSnapshot>> collect_sessions(Server& server,
                                                             std::chrono::milliseconds limit) {
  auto answers = ask_every_worker<std::vector<SessionSnapshot>>(server, [](Worker& w) {
    std::vector<SessionSnapshot> mine;
    mine.reserve(w.session_count());
    w.for_each_session([&](const ClientSession& s) {
      if (s.established()) mine.push_back(s.snapshot());
    });
    return mine;
  });
  auto per_worker = wait_at_most(answers, limit);
  if (!per_worker) return std::nullopt;
  return flatten(std::move(*per_worker));
}

std::optional<std::vector<SessionSnapshot>> snapshot_connections(Server& server,
                                                                 const std::vector<ConnRef>& refs,
                                                                 std::chrono::milliseconds limit) {
  auto answers = ask_every_worker<std::vector<SessionSnapshot>>(server, [refs](Worker& w) {
    std::vector<SessionSnapshot> mine;
    for (const auto& ref : refs) {
      if (ref.worker != w.index()) continue;
      auto* s = w.find_session(ref.conn_id);
      if (s && s->established()) mine.push_back(s->snapshot());
    }
    return mine;
  });
  auto per_worker = wait_at_most(answers, limit);
  if (!per_worker) return std::nullopt;
  return flatten(std::move(*per_worker));
}

std::optional<std::size_t> apply_receive_rates(Server& server,
                                               std::optional<protocol::NodePublic> only,
                                               std::chrono::milliseconds limit) {
  auto answers = ask_every_worker<std::size_t>(server, [only](Worker& w) {
    std::size_t applied = 0;
    w.for_each_session([&](ClientSession& s) {
      if (!s.established() || (only && s.key() != *only)) return;
      s.apply_rate_policy();
      ++applied;
    });
    return applied;
  });
  auto per_worker = wait_at_most(answers, limit);
  if (!per_worker) return std::nullopt;
  std::size_t total = 0;
  for (auto n : *per_worker) total += n;
  return total;
}

std::size_t close_client(Server& server, const protocol::NodePublic& key, std::string reason) {
  auto conns = server.registry().connections_of(key);
  for (const auto& ref : conns) server.post(ref.worker, CloseConnection{ref.conn_id, reason});
  return conns.size();
}

}  // namespace derp::server
