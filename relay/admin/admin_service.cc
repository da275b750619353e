#include "relay/admin/admin_service.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <condition_variable>
#include <deque>
#include <future>
#include <limits>
#include <mutex>

#include "relay/admin/client_query.h"
#include "relay/admin/convert.h"
#include "relay/limits/rate_text.h"
#include "relay/logging/printable.h"
#include "relay/server/admin_queries.h"
#include "relay/server/ask_workers.h"

namespace derp::admin {
namespace {

using grpc::Status;
using grpc::StatusCode;
using server::SessionSnapshot;

constexpr auto kWorkerAnswerLimit = std::chrono::seconds(5);
constexpr auto kStreamPoll = std::chrono::milliseconds(250);
constexpr std::size_t kWatchQueueLimit = 10000;

Status workers_too_slow() {
  return {StatusCode::UNAVAILABLE,
          "the relay workers did not answer within 5 s (overloaded?); try again"};
}

// How many connections on the node are mesh peers; counted on each worker, no snapshots.
std::future<std::vector<std::size_t>> count_mesh_peers(server::Server& srv) {
  return server::ask_every_worker<std::size_t>(srv, [](server::Worker& w) {
    std::size_t n = 0;
    w.for_each_session([&](const server::ClientSession& s) { n += s.can_mesh() ? 1 : 0; });
    return n;
  });
}

ClientSort to_sort(pb::ClientSort s) {
  switch (s) {
    case pb::CLIENT_SORT_KEY:
      return ClientSort::kKey;
    case pb::CLIENT_SORT_REMOTE:
      return ClientSort::kRemote;
    case pb::CLIENT_SORT_BYTES:
      return ClientSort::kBytes;
    case pb::CLIENT_SORT_PACKETS:
      return ClientSort::kPackets;
    case pb::CLIENT_SORT_LAST_ACTIVITY:
      return ClientSort::kLastActivity;
    case pb::CLIENT_SORT_QUEUE_DEPTH:
      return ClientSort::kQueueDepth;
    default:
      return ClientSort::kConnectedAt;
  }
}

Status parse_key_field(const std::string& text, protocol::NodePublic& out) {
  auto key = parse_client_key(text);
  if (!key) {
    return {StatusCode::INVALID_ARGUMENT,
            "key \"" + text + "\": expected nodekey:<64 hex digits> (as `derpctl clients` shows)"};
  }
  out = *key;
  return Status::OK;
}

// Local keys plus those reachable through a mesh sibling, once the registry counts them.
template <class Stats>
std::uint64_t known_keys(const Stats& s) {
  if constexpr (requires { s.total_keys; }) {
    return s.total_keys;
  } else {
    return s.local_keys;
  }
}

Status not_found(const std::string& key) {
  return {StatusCode::NOT_FOUND,
          "no client " + key + " is connected to this node (it may be on a sibling)"};
}

}  // namespace

AdminService::AdminService(server::Server& server, server::DrainController& drain, NodeFacts facts,
                           AuthPolicy auth)
    : server_(server),
      drain_(drain),
      facts_(std::move(facts)),
      auth_(std::move(auth)),
      shutting_down_(std::make_shared<std::atomic<bool>>(false)) {}

void AdminService::shut_down() {
  shutting_down_->store(true);
}

Status AdminService::GetNodeStatus(Ctx* ctx, const pb::GetNodeStatusRequest*, pb::NodeStatus* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  auto mesh_count = count_mesh_peers(server_);
  auto now = std::chrono::system_clock::now();
  out->set_version(facts_.version);
  set_timestamp(*out->mutable_started_at(), server_.started_at());
  set_duration(*out->mutable_uptime(), now - server_.started_at());
  out->set_node_key(server_.public_key().to_text());
  for (const auto& l : facts_.listeners) {
    auto* pl = out->add_listeners();
    pl->set_kind(l.kind);
    pl->set_address(l.address);
  }
  if (facts_.cert) {
    if (auto c = facts_.cert()) to_proto(*c, *out->mutable_tls());
  }
  if (facts_.ip_certs) {
    for (const auto& c : facts_.ip_certs()) to_proto(c, *out->add_ip_tls());
  }
  out->set_workers(static_cast<std::uint32_t>(server_.worker_count()));
  out->set_workers_active(static_cast<std::uint32_t>(server_.active_workers()));
  auto stats = server_.stats();
  out->set_clients(
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, stats.current_connections)));
  out->set_home_clients(
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, stats.current_home_connections)));
  out->set_known_keys(known_keys(stats.registry));
  out->set_packets_received(stats.packets_received);
  out->set_bytes_received(stats.bytes_received);
  out->set_packets_sent(stats.packets_sent);
  out->set_bytes_sent(stats.bytes_sent);
  std::uint64_t dropped = 0;
  for (const auto& by_kind : stats.packets_dropped) dropped += by_kind[0] + by_kind[1];
  out->set_packets_dropped(dropped);
  auto progress = drain_.progress();
  to_proto(progress, *out->mutable_drain());
  out->set_serving(progress.state == server::DrainState::kServing);
  if (facts_.limits) to_proto(facts_.limits->stats(), *out->mutable_limits());
  auto mesh = server::wait_at_most(mesh_count, kWorkerAnswerLimit);
  if (!mesh) return workers_too_slow();
  std::uint64_t mesh_peers = 0;
  for (auto n : *mesh) mesh_peers += n;
  out->set_mesh_peers(mesh_peers);
  return Status::OK;
}

Status AdminService::ListClients(Ctx* ctx, const pb::ListClientsRequest* req,
                                 pb::ListClientsResponse* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  ClientQuery q;
  q.key_prefix = req->key_prefix();
  q.remote_ip = req->remote_ip();
  q.sort = to_sort(req->sort());
  q.descending = req->descending();
  q.page_size = req->page_size();
  q.page_token = req->page_token();
  q.mesh_peers_only = req->mesh_peers_only();
  auto all = server::collect_sessions(server_, kWorkerAnswerLimit);
  if (!all) return workers_too_slow();
  ClientPage page;
  try {
    page = select_clients(std::move(*all), q);
  } catch (const BadQuery& e) {
    return {StatusCode::INVALID_ARGUMENT, e.what()};
  }
  out->mutable_clients()->Reserve(static_cast<int>(page.clients.size()));
  for (const auto& c : page.clients) to_proto(c, *out->add_clients());
  out->set_next_page_token(page.next_page_token);
  out->set_total_matching(page.total_matching);
  return Status::OK;
}

Status AdminService::GetClient(Ctx* ctx, const pb::GetClientRequest* req,
                               pb::GetClientResponse* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  protocol::NodePublic key;
  if (auto s = parse_key_field(req->key(), key); !s.ok()) return s;
  auto refs = server_.registry().connections_of(key);
  auto snaps = server::snapshot_connections(server_, refs, kWorkerAnswerLimit);
  if (!snaps) return workers_too_slow();
  if (snaps->empty()) return not_found(key.to_text());
  std::sort(snaps->begin(), snaps->end(),
            [](const auto& a, const auto& b) { return a.conn_id < b.conn_id; });
  for (const auto& c : *snaps) to_proto(c, *out->add_connections());
  return Status::OK;
}

Status AdminService::CloseClient(Ctx* ctx, const pb::CloseClientRequest* req,
                                 pb::CloseClientResponse* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  protocol::NodePublic key;
  if (auto s = parse_key_field(req->key(), key); !s.ok()) return s;
  std::string reason =
      req->reason().empty() ? "closed by admin" : "closed by admin: " + req->reason();
  auto n = server::close_client(server_, key, reason);
  if (n == 0) return not_found(key.to_text());
  spdlog::info("admin: closing {} connection(s) of {} ({})", n, key.to_text(), reason);
  out->set_closed(static_cast<std::uint32_t>(n));
  return Status::OK;
}

Status AdminService::WatchClients(Ctx* ctx, const pb::WatchClientsRequest*,
                                  grpc::ServerWriter<pb::ClientEvent>* writer) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  struct Queue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<pb::ClientEvent> events;
    std::size_t dropped = 0;
  };
  auto q = std::make_shared<Queue>();
  auto id = server_.events().subscribe([q](const server::ClientEvent& e) {
    pb::ClientEvent m;
    to_proto(e, std::chrono::system_clock::now(), m);
    std::lock_guard lock(q->mu);
    if (q->events.size() >= kWatchQueueLimit) {
      ++q->dropped;
      return;
    }
    q->events.push_back(std::move(m));
    q->cv.notify_one();
  });
  // Headers go out at once, so the caller knows the watch is in place before any event.
  writer->SendInitialMetadata();
  Status result = Status::OK;
  for (;;) {
    std::deque<pb::ClientEvent> batch;
    std::size_t dropped = 0;
    {
      std::unique_lock lock(q->mu);
      q->cv.wait_for(lock, kStreamPoll, [&] { return !q->events.empty() || q->dropped > 0; });
      batch.swap(q->events);
      dropped = q->dropped;
    }
    bool ok = true;
    for (const auto& e : batch) {
      if (!writer->Write(e)) {
        ok = false;
        break;
      }
    }
    if (!ok || ctx->IsCancelled()) break;
    if (dropped > 0) {
      result = {StatusCode::RESOURCE_EXHAUSTED, "this watcher fell " +
                                                    std::to_string(kWatchQueueLimit) +
                                                    " events behind and missed some; watch again"};
      break;
    }
    if (shutting_down_->load()) {
      result = {StatusCode::UNAVAILABLE, "derpd is shutting down"};
      break;
    }
  }
  server_.events().unsubscribe(id);
  return result;
}

Status AdminService::GetMesh(Ctx* ctx, const pb::GetMeshRequest*, pb::GetMeshResponse* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  if (facts_.mesh) {
    for (const auto& link : facts_.mesh()) to_proto(link, *out->add_links());
  }
  return Status::OK;
}

Status AdminService::change_mesh(Ctx* ctx, const std::string& peer, bool add,
                                 pb::MeshPeersResponse* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  if (!facts_.change_mesh) {
    return {StatusCode::UNIMPLEMENTED, "this node's mesh membership cannot change"};
  }
  if (peer.empty()) return {StatusCode::INVALID_ARGUMENT, "name the sibling (a --mesh-with entry)"};
  auto result = facts_.change_mesh(peer, add);
  using Error = MeshChangeResult::Error;
  switch (result.error) {
    case Error::kNone:
    case Error::kNotSaved:  // the link changed; only the file could not be written
      break;
    case Error::kNoMeshKey:
      return {StatusCode::FAILED_PRECONDITION, result.message};
    case Error::kBadEntry:
      return {StatusCode::INVALID_ARGUMENT, result.message};
    case Error::kAlreadyMember:
      return {StatusCode::ALREADY_EXISTS, result.message};
    case Error::kNotMember:
      return {StatusCode::NOT_FOUND, result.message};
    case Error::kFull:
      return {StatusCode::RESOURCE_EXHAUSTED, result.message};
  }
  for (const auto& p : result.peers) out->add_peers(p);
  out->set_persisted_to(result.persisted_to);
  out->set_note(result.message);
  return Status::OK;
}

Status AdminService::AddMeshPeer(Ctx* ctx, const pb::MeshPeerRequest* req,
                                 pb::MeshPeersResponse* out) {
  return change_mesh(ctx, req->peer(), true, out);
}

Status AdminService::RemoveMeshPeer(Ctx* ctx, const pb::MeshPeerRequest* req,
                                    pb::MeshPeersResponse* out) {
  return change_mesh(ctx, req->peer(), false, out);
}

namespace {
Status admit_rules_answer(const AdmitRulesResult& r, pb::AdmitRules* out) {
  using Error = AdmitRulesResult::Error;
  if (r.error == Error::kBadTarget) return {StatusCode::INVALID_ARGUMENT, r.message};
  if (r.error == Error::kNoSuchRule) return {StatusCode::NOT_FOUND, r.message};
  // kNotSaved: the rule applies; only the file could not be written, and the log says why.
  for (const auto& rule : r.rules) out->add_rules(rule);
  out->set_file(r.file);
  out->set_closed(static_cast<std::uint32_t>(r.closed));
  return Status::OK;
}
}  // namespace

Status AdminService::ListAdmitRules(Ctx* ctx, const pb::ListAdmitRulesRequest*,
                                    pb::AdmitRules* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  if (!facts_.admit.list) {
    return {StatusCode::FAILED_PRECONDITION,
            "this node has no admission rules: start it with --admit-file FILE"};
  }
  return admit_rules_answer(facts_.admit.list(), out);
}

Status AdminService::ChangeAdmitRule(Ctx* ctx, const pb::AdmitRuleChange* req,
                                     pb::AdmitRules* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  if (!facts_.admit.change) {
    return {StatusCode::FAILED_PRECONDITION,
            "this node has no admission rules: start it with --admit-file FILE"};
  }
  AdmitAction action;
  switch (req->action()) {
    case pb::AdmitRuleChange::ACTION_ALLOW:
      action = AdmitAction::kAllow;
      break;
    case pb::AdmitRuleChange::ACTION_DENY:
      action = AdmitAction::kDeny;
      break;
    case pb::AdmitRuleChange::ACTION_REMOVE:
      action = AdmitAction::kRemove;
      break;
    default:
      return {StatusCode::INVALID_ARGUMENT, "action must be allow, deny or remove"};
  }
  auto result = facts_.admit.change(action, req->target());
  if (result.error == AdmitRulesResult::Error::kNone ||
      result.error == AdmitRulesResult::Error::kNotSaved) {
    spdlog::info("admin: admission rule {} {}{}", pb::AdmitRuleChange::Action_Name(req->action()),
                 logging::printable(req->target(), 80),
                 result.closed ? ", closed " + std::to_string(result.closed) + " client(s)" : "");
  }
  return admit_rules_answer(result, out);
}

Status AdminService::RecentRefusals(Ctx* ctx, const pb::RecentRefusalsRequest*,
                                    pb::RecentRefusalsResponse* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  if (!facts_.admit.recent_refusals) {
    return {StatusCode::FAILED_PRECONDITION,
            "this node runs no admission check (--admit-file, --verify-clients or "
            "--verify-client-url)"};
  }
  for (const auto& r : facts_.admit.recent_refusals()) {
    auto* m = out->add_refusals();
    m->set_key(r.key);
    m->set_source(r.source);
    m->set_reason(r.reason);
    set_timestamp(*m->mutable_at(), r.at);
  }
  return Status::OK;
}

void AdminService::rate_limits(pb::ClientRateLimits& out) {
  auto& policy = server_.rate_policy();
  to_proto(policy.default_rate(), *out.mutable_default_limit());
  out.set_rate_config(facts_.rate_config);
  for (const auto& [key, rate] : policy.overrides()) {
    auto* o = out.add_overrides();
    o->set_key(key.to_text());
    to_proto(rate, *o->mutable_limit());
  }
}

Status AdminService::SetClientRateLimit(Ctx* ctx, const pb::ClientRateLimitChange* req,
                                        pb::ClientRateLimits* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  auto change = parse_rate_limit_change(*req);
  if (!change.error.empty()) return {StatusCode::INVALID_ARGUMENT, change.error};
  server_.rate_policy().set_override(change.key, change.rate);
  auto applied = server::apply_receive_rates(server_, change.key, kWorkerAnswerLimit);
  if (!applied) return workers_too_slow();
  spdlog::info("admin: receive limit of {} {} ({} connection(s) now)", change.key.to_text(),
               !change.rate ? std::string("back to the node's default")
               : change.rate->limited()
                   ? "set to " + limits::format_rate(change.rate->bytes_per_second)
                   : std::string("removed (unlimited)"),
               *applied);
  rate_limits(*out);
  out->set_connections_changed(static_cast<std::uint32_t>(*applied));
  return Status::OK;
}

Status AdminService::ListClientRateLimits(Ctx* ctx, const pb::ListClientRateLimitsRequest*,
                                          pb::ClientRateLimits* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  rate_limits(*out);
  return Status::OK;
}

Status AdminService::Drain(Ctx* ctx, const pb::DrainRequest* req,
                           grpc::ServerWriter<pb::DrainProgress>* writer) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  server::DrainOptions o;
  if (req->has_deadline()) o.deadline = to_millis(req->deadline());
  if (req->has_interval()) o.interval = to_millis(req->interval());
  if (o.deadline.count() < 0 || o.interval.count() < 0) {
    return {StatusCode::INVALID_ARGUMENT, "deadline and interval must not be negative"};
  }
  if (o.deadline.count() == 0) o.deadline = std::chrono::minutes(5);
  if (o.interval.count() == 0) o.interval = std::chrono::milliseconds(100);
  if (o.deadline > std::chrono::hours(24)) {
    return {StatusCode::INVALID_ARGUMENT, "deadline longer than 24h; drains should take minutes"};
  }
  if (o.interval > o.deadline) {
    return {StatusCode::INVALID_ARGUMENT,
            "interval is longer than the deadline: no batch would run before everyone is closed"};
  }
  o.batch_size = req->batch_size();
  o.clients_per_second =
      req->has_clients_per_second() ? req->clients_per_second() : facts_.drain_rate;
  if (!(o.clients_per_second >= 0) || o.clients_per_second > 1e9) {
    return {StatusCode::INVALID_ARGUMENT, "clients_per_second must be a number from 0 up"};
  }
  o.send_restarting = !req->has_send_restarting() || req->send_restarting();
  o.stop_stun = req->stop_stun();

  struct Slot {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<server::DrainProgress> latest;
  };
  auto slot = std::make_shared<Slot>();
  auto id = drain_.subscribe([slot](const server::DrainProgress& p) {
    std::lock_guard lock(slot->mu);
    slot->latest = p;
    slot->cv.notify_one();
  });
  if (drain_.drain(o)) {
    spdlog::info(
        "admin: draining (deadline {} ms, batch {}, {} clients/s, interval {} ms, restarting {}, "
        "stop STUN {})",
        o.deadline.count(), o.batch_size, o.clients_per_second, o.interval.count(),
        o.send_restarting, o.stop_stun);
  }
  auto current = drain_.progress();
  Status result = Status::OK;
  for (;;) {
    pb::DrainProgress msg;
    to_proto(current, *msg.mutable_status());
    msg.set_message(current.describe());
    if (!writer->Write(msg)) break;
    if (current.state == server::DrainState::kDrained) break;
    if (current.state == server::DrainState::kServing) {
      result = {StatusCode::ABORTED, "the drain was cancelled by Undrain"};
      break;
    }
    std::optional<server::DrainProgress> next;
    while (!next) {
      if (ctx->IsCancelled() || shutting_down_->load()) break;
      std::unique_lock lock(slot->mu);
      slot->cv.wait_for(lock, kStreamPoll, [&] { return slot->latest.has_value(); });
      next.swap(slot->latest);
    }
    if (!next) {
      if (shutting_down_->load()) result = {StatusCode::UNAVAILABLE, "derpd is shutting down"};
      break;
    }
    current = *next;
  }
  drain_.unsubscribe(id);
  return result;
}

Status AdminService::Undrain(Ctx* ctx, const pb::UndrainRequest*, pb::UndrainResponse* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  auto undone = drain_.undrain();
  if (!undone.error.empty()) {
    return {StatusCode::UNAVAILABLE, "cannot serve again: " + undone.error};
  }
  if (!undone.changed) {
    return {StatusCode::FAILED_PRECONDITION, "the node is serving; there is no drain to undo"};
  }
  spdlog::info("admin: undrained, serving again");
  to_proto(drain_.progress(), *out->mutable_status());
  return Status::OK;
}

Status AdminService::RenewCertificate(Ctx* ctx, const pb::RenewCertificateRequest*,
                                      pb::RenewCertificateResponse* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  if (!facts_.renew_cert) {
    return {StatusCode::FAILED_PRECONDITION,
            "this node does not use ACME (--certmode manual or plain HTTP): replace the "
            "certificate files instead; they are reloaded when they change"};
  }
  struct Outcome {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<std::pair<bool, std::string>> result;
  };
  auto outcome = std::make_shared<Outcome>();
  spdlog::info("admin: certificate renewal asked for");
  facts_.renew_cert([outcome](bool ok, const std::string& result) {
    std::lock_guard lock(outcome->mu);
    outcome->result.emplace(ok, result);
    outcome->cv.notify_all();
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  std::unique_lock lock(outcome->mu);
  while (!outcome->result) {
    if (ctx->IsCancelled()) return {StatusCode::CANCELLED, "cancelled; the renewal goes on"};
    if (shutting_down_->load()) return {StatusCode::UNAVAILABLE, "derpd is shutting down"};
    if (std::chrono::steady_clock::now() > deadline) {
      return {StatusCode::DEADLINE_EXCEEDED,
              "no result within 5 minutes; the renewal goes on (see derpctl status)"};
    }
    outcome->cv.wait_for(lock, kStreamPoll);
  }
  out->set_ok(outcome->result->first);
  out->set_result(outcome->result->second);
  if (facts_.cert) {
    if (auto c = facts_.cert()) to_proto(*c, *out->mutable_tls());
  }
  return Status::OK;
}

Status AdminService::SetConnectionLimits(Ctx* ctx, const pb::SetConnectionLimitsRequest* req,
                                         pb::ConnectionLimits* out) {
  if (auto s = authorize(*ctx, auth_); !s.ok()) return s;
  if (!facts_.limits) return {StatusCode::UNIMPLEMENTED, "this node has no connection limits"};
  limits::ConnectionLimitChange change;
  if (req->has_max_connections()) change.max_connections = req->max_connections();
  if (req->has_max_connections_per_ip()) change.max_per_ip = req->max_connections_per_ip();
  if (req->has_accept_rate()) {
    if (std::isnan(req->accept_rate()) || req->accept_rate() < 0) {
      return {StatusCode::INVALID_ARGUMENT, "accept_rate must be a number >= 0 (0 or inf: none)"};
    }
    change.accept_rate = req->accept_rate();
  }
  if (req->has_accept_burst()) {
    if (req->accept_burst() == 0) {
      return {StatusCode::INVALID_ARGUMENT, "accept_burst must be at least 1"};
    }
    change.accept_burst = req->accept_burst();
  }
  const auto settings = facts_.limits->update(change);
  spdlog::info(
      "connection limits set through the admin API: max {}, per IP {}, accept rate {}/s "
      "(burst {}); 0 means none",
      settings.max_connections, settings.max_per_ip, settings.accept_rate, settings.accept_burst);
  to_proto(facts_.limits->stats(), *out);
  return Status::OK;
}

}  // namespace derp::admin
