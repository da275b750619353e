// The region as this node sees it: one MeshLink per sibling, changed while the node runs.
// derpctl mesh add/remove and a SIGHUP re-read of --mesh-with-file both land here; a sibling
// that leaves has its link stopped and its routes dropped with PeerGone, exactly as when a link
// fails. Thread-safe: the admin API calls it from gRPC threads, the node from its control thread.
#pragma once

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "mesh/mesh_link.h"
#include "mesh/mesh_peers.h"

namespace derp::mesh {

// A change the membership refuses, with the operator's text. kind says which: the gRPC layer
// maps it to a status code.
class MembershipError : public std::runtime_error {
 public:
  enum class Kind { kAlreadyMember, kNotMember, kFull };
  MembershipError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct MembershipChange {
  std::vector<std::string> added, removed;  // entries as written
};

class MeshMembership {
 public:
  // `server` must be started before the first link is added.
  MeshMembership(server::Server& server, MeshLinkOptions options);
  ~MeshMembership();  // stops every link
  MeshMembership(const MeshMembership&) = delete;
  MeshMembership& operator=(const MeshMembership&) = delete;

  // Makes the siblings exactly `peers` (matched by entry name): new ones get a link, links of
  // entries no longer listed are stopped. Returns what changed.
  MembershipChange set_peers(const std::vector<MeshPeer>& peers);
  void add(const MeshPeer& peer);          // throws MembershipError
  void remove(const std::string& name);    // an entry name or its URL; throws MembershipError
  std::vector<std::string> names() const;  // current siblings, in the order they were added
  std::vector<std::shared_ptr<MeshLink>> links() const;
  void stop_all();

 private:
  void add_locked(const MeshPeer& peer);
  std::shared_ptr<MeshLink> detach_locked(std::size_t index);

  server::Server& server_;
  MeshLinkOptions options_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<MeshLink>> links_;
  std::vector<MeshPeer> peers_;  // parallel to links_
  // Stopped links outlive their slot: a worker may still hold the pointer it loaded from it.
  std::vector<std::shared_ptr<MeshLink>> retired_;
  std::uint32_t next_worker_ = 0;
};

}  // namespace derp::mesh
