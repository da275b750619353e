#include "relay/server/client_registry.h"

#include <algorithm>

#include "relay/server/client_session.h"

namespace derp::server {

ClientRegistry::Lookup ClientRegistry::lookup(const protocol::NodePublic& key) const {
  Shard& s = shard_for(key);
  std::shared_lock lock(s.mu);
  auto it = s.entries.find(key);
  if (it == s.entries.end()) return {};
  const Entry& e = it->second;
  Lookup out;
  out.local_conns = e.members.size();
  for (const auto& m : e.members) {
    if (m.ref.conn_id == e.active_id) out.active = m.ref;
  }
  if (e.members.empty() && !e.forwarders.empty()) out.forwarder = e.forwarders.front();
  return out;
}

void ClientRegistry::set_dup_flags(Entry& e) {
  bool dup = e.members.size() > 1;
  for (auto& m : e.members) m.ref.session->set_duplicate(dup);
}

void ClientRegistry::note_history(Entry& e, std::uint64_t conn_id) {
  if (e.history.empty() || e.history.back() != conn_id) e.history.push_back(conn_id);
}

void ClientRegistry::add(const protocol::NodePublic& key, const ConnRef& ref,
                         const protocol::PeerPresentFrame& presence) {
  std::shared_lock watchers_lock(watchers_mu_);
  Shard& s = shard_for(key);
  std::unique_lock lock(s.mu);
  auto [it, inserted] = s.entries.try_emplace(key);
  Entry& e = it->second;
  if (inserted) total_keys_.fetch_add(1, std::memory_order_relaxed);
  if (e.members.empty()) local_keys_.fetch_add(1, std::memory_order_relaxed);
  if (e.members.size() == 1) {
    // First duplication of this key: both connections now count (protocol §4.2 counter rules).
    dup_keys_.fetch_add(1, std::memory_order_relaxed);
    dup_conns_.fetch_add(2, std::memory_order_relaxed);
    note_history(e, e.active_id);
  } else if (e.members.size() > 1) {
    dup_conns_.fetch_add(1, std::memory_order_relaxed);
  }
  if (!e.members.empty()) {
    total_dup_conns_.fetch_add(1, std::memory_order_relaxed);
    note_history(e, ref.conn_id);
  }
  e.members.push_back({ref, presence});
  e.active_id = ref.conn_id;
  set_dup_flags(e);
  tell_watchers_present(presence);
}

bool ClientRegistry::remove(const protocol::NodePublic& key, std::uint64_t conn_id) {
  std::shared_lock watchers_lock(watchers_mu_);
  Shard& s = shard_for(key);
  std::unique_lock lock(s.mu);
  auto it = s.entries.find(key);
  if (it == s.entries.end()) return false;
  Entry& e = it->second;
  auto m = std::find_if(e.members.begin(), e.members.end(),
                        [&](const Member& x) { return x.ref.conn_id == conn_id; });
  if (m == e.members.end()) return false;
  m->ref.session->set_duplicate(false);
  e.members.erase(m);
  if (e.members.empty()) {
    local_keys_.fetch_sub(1, std::memory_order_relaxed);
    e.history.clear();
    e.active_id = 0;
    tell_watchers_gone(key);
    if (!e.forwarders.empty()) return false;  // still reachable through a sibling
    s.entries.erase(it);
    total_keys_.fetch_sub(1, std::memory_order_relaxed);
    return true;
  }
  std::erase(e.history, conn_id);
  // Collapse repeats that the removal made adjacent.
  e.history.erase(std::unique(e.history.begin(), e.history.end()), e.history.end());
  if (e.members.size() == 1) {
    dup_keys_.fetch_sub(1, std::memory_order_relaxed);
    dup_conns_.fetch_sub(2, std::memory_order_relaxed);
    e.history.clear();
    e.active_id = e.members.front().ref.conn_id;
  } else {
    dup_conns_.fetch_sub(1, std::memory_order_relaxed);
    if (e.active_id == conn_id) {
      e.active_id = e.history.empty() ? e.members.back().ref.conn_id : e.history.back();
    }
  }
  set_dup_flags(e);
  return false;
}

void ClientRegistry::mark_active(const protocol::NodePublic& key, std::uint64_t conn_id) {
  Shard& s = shard_for(key);
  std::unique_lock lock(s.mu);
  auto it = s.entries.find(key);
  if (it == s.entries.end() || it->second.members.size() < 2) return;
  it->second.active_id = conn_id;
  note_history(it->second, conn_id);
}

ClientRegistry::Member* ClientRegistry::find_member(Entry& e, std::uint64_t conn_id) {
  for (auto& m : e.members) {
    if (m.ref.conn_id == conn_id) return &m;
  }
  return nullptr;
}

void ClientRegistry::move(const protocol::NodePublic& key, std::uint64_t conn_id,
                          std::uint32_t worker) {
  Shard& s = shard_for(key);
  std::unique_lock lock(s.mu);
  auto it = s.entries.find(key);
  if (it == s.entries.end()) return;
  if (Member* m = find_member(it->second, conn_id)) {
    m->ref.worker = worker;
  }
}

bool ClientRegistry::drop_forwarder(Entry& e, std::uint32_t link) {
  auto f = std::find(e.forwarders.begin(), e.forwarders.end(), link);
  if (f == e.forwarders.end()) {
    forwarder_delete_other_value_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (e.forwarders.size() == 2) multiforwarder_deleted_.fetch_add(1, std::memory_order_relaxed);
  e.forwarders.erase(f);
  return e.forwarders.empty() && e.members.empty();
}

void ClientRegistry::add_forwarder(const protocol::NodePublic& key, std::uint32_t link) {
  Shard& s = shard_for(key);
  std::unique_lock lock(s.mu);
  auto [it, inserted] = s.entries.try_emplace(key);
  if (inserted) total_keys_.fetch_add(1, std::memory_order_relaxed);
  auto& f = it->second.forwarders;
  if (std::find(f.begin(), f.end(), link) != f.end()) return;  // repeated PeerPresent
  f.push_back(link);
  if (f.size() == 2) multiforwarder_created_.fetch_add(1, std::memory_order_relaxed);
}

bool ClientRegistry::remove_forwarder(const protocol::NodePublic& key, std::uint32_t link) {
  Shard& s = shard_for(key);
  std::unique_lock lock(s.mu);
  auto it = s.entries.find(key);
  if (it == s.entries.end()) {
    forwarder_delete_other_value_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (!drop_forwarder(it->second, link)) return false;
  s.entries.erase(it);
  total_keys_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

std::vector<protocol::NodePublic> ClientRegistry::remove_all_forwarders(std::uint32_t link) {
  std::vector<protocol::NodePublic> gone;
  for (auto& s : shards_) {
    std::unique_lock lock(s.mu);
    for (auto it = s.entries.begin(); it != s.entries.end();) {
      auto& f = it->second.forwarders;
      if (std::find(f.begin(), f.end(), link) != f.end() && drop_forwarder(it->second, link)) {
        gone.push_back(it->first);
        it = s.entries.erase(it);
        total_keys_.fetch_sub(1, std::memory_order_relaxed);
      } else {
        ++it;
      }
    }
  }
  return gone;
}

std::size_t ClientRegistry::forwarded_keys(std::uint32_t link) const {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::shared_lock lock(s.mu);
    for (const auto& [key, e] : s.entries) {
      if (std::find(e.forwarders.begin(), e.forwarders.end(), link) != e.forwarders.end()) ++n;
    }
  }
  return n;
}

void ClientRegistry::tell_watchers_present(const protocol::PeerPresentFrame& p) {
  for (const auto& w : watchers_) post_(w.worker, SendPeerPresent{w.conn_id, p});
}

void ClientRegistry::tell_watchers_gone(const protocol::NodePublic& key) {
  for (const auto& w : watchers_) {
    post_(w.worker, SendPeerGone{w.conn_id, key, protocol::PeerGoneReason::kDisconnected});
  }
}

void ClientRegistry::add_watcher(const ConnRef& watcher) {
  std::unique_lock watchers_lock(watchers_mu_);
  for (auto& s : shards_) {
    std::shared_lock lock(s.mu);
    for (const auto& [key, e] : s.entries) {
      for (const auto& m : e.members) {
        if (m.ref.conn_id == e.active_id)
          post_(watcher.worker, SendPeerPresent{watcher.conn_id, m.presence});
      }
    }
  }
  watchers_.push_back(watcher);
}

void ClientRegistry::remove_watcher(std::uint64_t conn_id) {
  std::unique_lock watchers_lock(watchers_mu_);
  std::erase_if(watchers_, [&](const ConnRef& w) { return w.conn_id == conn_id; });
}

std::vector<ConnRef> ClientRegistry::connections_of(const protocol::NodePublic& key) const {
  Shard& s = shard_for(key);
  std::shared_lock lock(s.mu);
  std::vector<ConnRef> out;
  auto it = s.entries.find(key);
  if (it != s.entries.end()) {
    for (const auto& m : it->second.members) out.push_back(m.ref);
  }
  return out;
}

RegistryStats ClientRegistry::stats() const {
  RegistryStats st;
  st.total_keys = total_keys_.load(std::memory_order_relaxed);
  st.local_keys = local_keys_.load(std::memory_order_relaxed);
  st.multiforwarder_created = multiforwarder_created_.load(std::memory_order_relaxed);
  st.multiforwarder_deleted = multiforwarder_deleted_.load(std::memory_order_relaxed);
  st.forwarder_delete_other_value = forwarder_delete_other_value_.load(std::memory_order_relaxed);
  st.dup_keys = dup_keys_.load(std::memory_order_relaxed);
  st.dup_conns = dup_conns_.load(std::memory_order_relaxed);
  st.total_dup_conns = total_dup_conns_.load(std::memory_order_relaxed);
  std::shared_lock lock(watchers_mu_);
  st.watchers = watchers_.size();
  return st;
}

}  // namespace derp::server
