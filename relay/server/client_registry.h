// Which connection serves which node key (protocol §4.2), shared by all workers.
//
// Sharded by key so the per-packet lookup takes one shared lock on one small shard. Membership
// changes (register, unregister, duplicates) take the shard's exclusive lock and, while holding
// it, tell mesh watchers, so a watcher sees each key's PeerPresent/PeerGone in order.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "relay/protocol/frame.h"
#include "relay/server/conn_ref.h"
#include "relay/server/worker_message.h"

namespace derp::server {

struct RegistryStats {
  std::size_t total_keys = 0;  // local ∪ reachable through a mesh sibling
  std::size_t local_keys = 0;
  std::uint64_t multiforwarder_created = 0;
  std::uint64_t multiforwarder_deleted = 0;
  std::uint64_t forwarder_delete_other_value = 0;
  std::size_t dup_keys = 0;
  std::size_t dup_conns = 0;
  std::uint64_t total_dup_conns = 0;
  std::size_t watchers = 0;
};

class ClientRegistry {
 public:
  // Delivers a message to the worker that owns a connection.
  using Poster = std::function<void(std::uint32_t worker, WorkerMessage)>;
  explicit ClientRegistry(Poster post) : post_(std::move(post)) {}

  struct Lookup {
    std::optional<ConnRef> active;
    std::size_t local_conns = 0;
    std::optional<std::uint32_t> forwarder;  // the preferred mesh link, when no local connection
    // Connected here or through a mesh sibling: what remove() returning true says is no longer so.
    bool reachable() const { return local_conns > 0 || forwarder.has_value(); }
  };
  Lookup lookup(const protocol::NodePublic& key) const;

  // Registers a connection that finished its handshake; it becomes the key's active connection.
  void add(const protocol::NodePublic& key, const ConnRef& ref,
           const protocol::PeerPresentFrame& presence);
  // Unregisters. Returns true when the key is gone from the region: that was its last local
  // connection and no mesh sibling has it either.
  bool remove(const protocol::NodePublic& key, std::uint64_t conn_id);

  // A connection moved to another worker (relay/server/worker_packing.h): packets for it are
  // routed there from now on. Nothing happens if it unregistered meanwhile.
  void move(const protocol::NodePublic& key, std::uint64_t conn_id, std::uint32_t worker);

  // Mesh routes (protocol §5.3). The first link to announce a key is preferred; later ones are
  // fallbacks in announcement order. Returns true from remove_* when a key left the region.
  void add_forwarder(const protocol::NodePublic& key, std::uint32_t link);
  bool remove_forwarder(const protocol::NodePublic& key, std::uint32_t link);
  std::vector<protocol::NodePublic> remove_all_forwarders(std::uint32_t link);
  std::size_t forwarded_keys(std::uint32_t link) const;
  // A duplicate connection spoke: it becomes the active one (protocol §4.2, "last writer is
  // active").
  void mark_active(const protocol::NodePublic& key, std::uint64_t conn_id);

  // Adds a mesh watcher and queues a PeerPresent for every local key to it.
  void add_watcher(const ConnRef& watcher);
  void remove_watcher(std::uint64_t conn_id);

  std::vector<ConnRef> connections_of(const protocol::NodePublic& key) const;
  RegistryStats stats() const;

 private:
  struct Member {
    ConnRef ref;
    protocol::PeerPresentFrame presence;
  };
  struct Entry {
    std::vector<Member> members;
    std::vector<std::uint64_t> history;  // dup connections that registered or spoke, newest last
    std::uint64_t active_id = 0;
    std::vector<std::uint32_t> forwarders;  // mesh links that announced the key, preferred first
  };
  struct Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<protocol::NodePublic, Entry> entries;
  };
  static constexpr std::size_t kShards = 64;

  Shard& shard_for(const protocol::NodePublic& key) const {
    return shards_[std::hash<protocol::NodePublic>{}(key) % kShards];
  }
  void set_dup_flags(Entry& e);
  static Member* find_member(Entry& e, std::uint64_t conn_id);
  void note_history(Entry& e, std::uint64_t conn_id);
  void tell_watchers_present(const protocol::PeerPresentFrame& p);
  void tell_watchers_gone(const protocol::NodePublic& key);
  // Removes `link` from an entry; true when the entry then has no route at all (caller erases).
  bool drop_forwarder(Entry& e, std::uint32_t link);

  Poster post_;
  mutable std::array<Shard, kShards> shards_;
  // Guards `watchers_`. Membership changes hold it shared while they notify; adding a watcher
  // holds it exclusively, so its initial snapshot and the later stream neither miss nor reorder.
  mutable std::shared_mutex watchers_mu_;
  std::vector<ConnRef> watchers_;
  std::atomic<std::size_t> total_keys_{0};
  std::atomic<std::size_t> local_keys_{0};
  std::atomic<std::uint64_t> multiforwarder_created_{0};
  std::atomic<std::uint64_t> multiforwarder_deleted_{0};
  std::atomic<std::uint64_t> forwarder_delete_other_value_{0};
  std::atomic<std::size_t> dup_keys_{0};
  std::atomic<std::size_t> dup_conns_{0};
  std::atomic<std::uint64_t> total_dup_conns_{0};
};

}  // namespace derp::server
