#include "relay/server/admin_queries.h"

#include <atomic>
#include <memory>
#include <mutex>

namespace derp::server {

std::future<std::vector<SessionSnapshot>> collect_sessions(Server& server) {
  struct Gather {
    std::mutex mu;
    std::vector<SessionSnapshot> all;
    std::size_t pending;
    std::promise<std::vector<SessionSnapshot>> done;
  };
  auto g = std::make_shared<Gather>();
  g->pending = server.worker_count();
  auto result = g->done.get_future();
  for (std::size_t i = 0; i < server.worker_count(); ++i) {
    Worker& w = server.worker(i);
    w.post(RunOnWorker{[g, &w] {
      std::vector<SessionSnapshot> mine;
      mine.reserve(w.session_count());
      w.for_each_session([&](const ClientSession& s) {
        if (s.established()) mine.push_back(s.snapshot());
      });
      std::lock_guard lock(g->mu);
      g->all.insert(g->all.end(), std::make_move_iterator(mine.begin()),
                    std::make_move_iterator(mine.end()));
      if (--g->pending == 0) g->done.set_value(std::move(g->all));
    }});
  }
  return result;
}

std::size_t close_client(Server& server, const protocol::NodePublic& key, std::string reason) {
  auto conns = server.registry().connections_of(key);
  for (const auto& ref : conns) {
    auto why = std::make_shared<std::string>(reason);
    server.post(ref.worker, RunOnWorker{[&server, ref, why] {
                  if (auto* s = server.worker(ref.worker).find_session(ref.conn_id)) s->close(*why);
                }});
  }
  return conns.size();
}

}  // namespace derp::server
