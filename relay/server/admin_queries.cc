#include "relay/server/admin_queries.h"

#include <atomic>
#include <memory>
#include <mutex>

namespace derp::server {

namespace {

// Collects snapshots from several worker tasks; the promise is kept when the last one reports.
class SnapshotGather {
 public:
  explicit SnapshotGather(std::size_t tasks) : pending_(tasks) {
    if (tasks == 0) done_.set_value({});
  }
  std::future<std::vector<SessionSnapshot>> future() { return done_.get_future(); }
  void report(std::vector<SessionSnapshot> mine) {
    std::lock_guard lock(mu_);
    all_.insert(all_.end(), std::make_move_iterator(mine.begin()),
                std::make_move_iterator(mine.end()));
    if (--pending_ == 0) done_.set_value(std::move(all_));
  }

 private:
  std::mutex mu_;
  std::vector<SessionSnapshot> all_;
  std::size_t pending_;
  std::promise<std::vector<SessionSnapshot>> done_;
};

}  // namespace

std::future<std::vector<SessionSnapshot>> collect_sessions(Server& server) {
  auto g = std::make_shared<SnapshotGather>(server.worker_count());
  auto result = g->future();
  for (std::size_t i = 0; i < server.worker_count(); ++i) {
    Worker& w = server.worker(i);
    w.post(RunOnWorker{[g, &w] {
      std::vector<SessionSnapshot> mine;
      mine.reserve(w.session_count());
      w.for_each_session([&](const ClientSession& s) {
        if (s.established()) mine.push_back(s.snapshot());
      });
      g->report(std::move(mine));
    }});
  }
  return result;
}

std::future<std::vector<SessionSnapshot>> snapshot_connections(Server& server,
                                                               const std::vector<ConnRef>& refs) {
  auto g = std::make_shared<SnapshotGather>(refs.size());
  auto result = g->future();
  for (const auto& ref : refs) {
    server.post(ref.worker, RunOnWorker{[g, &server, ref] {
                  std::vector<SessionSnapshot> mine;
                  auto* s = server.worker(ref.worker).find_session(ref.conn_id);
                  if (s && s->established()) mine.push_back(s->snapshot());
                  g->report(std::move(mine));
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
