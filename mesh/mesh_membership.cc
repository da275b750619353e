#include "mesh/mesh_membership.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

namespace derp::mesh {

MeshMembership::MeshMembership(server::Server& server, MeshLinkOptions options)
    : server_(server), options_(std::move(options)) {}

MeshMembership::~MeshMembership() {
  stop_all();
}

void MeshMembership::add_locked(const MeshPeer& peer) {
  for (const auto& p : peers_) {
    if (p.name == peer.name || p.url == peer.url) {
      throw MembershipError(MembershipError::Kind::kAlreadyMember,
                            "\"" + peer.name + "\" is already a sibling of this node");
    }
  }
  // The lowest free slot. A retired link keeps its slot until it has stopped: its last act is
  // dropping the routes stored under its id, which must not be a new link's.
  std::array<bool, server::Server::kMaxMeshLinks> used{};
  for (const auto& l : links_) used[l->id()] = true;
  for (const auto& l : retired_) {
    if (!l->finished()) used[l->id()] = true;
  }
  auto slot = std::find(used.begin(), used.end(), false);
  if (slot == used.end()) {
    throw MembershipError(
        MembershipError::Kind::kFull,
        "this node already has " + std::to_string(used.size()) + " siblings, the most it supports");
  }
  auto id = static_cast<std::uint32_t>(slot - used.begin());
  auto& home = server_.worker(next_worker_++ % server_.worker_count());
  auto link = std::make_shared<MeshLink>(server_, home, id, peer, options_);
  server_.set_mesh_forwarder(id, link.get());
  link->start();
  links_.push_back(std::move(link));
  peers_.push_back(peer);
}

std::shared_ptr<MeshLink> MeshMembership::detach_locked(std::size_t index) {
  auto link = links_[index];
  links_.erase(links_.begin() + static_cast<std::ptrdiff_t>(index));
  peers_.erase(peers_.begin() + static_cast<std::ptrdiff_t>(index));
  server_.set_mesh_forwarder(link->id(), nullptr);
  retired_.push_back(link);
  return link;
}

void MeshMembership::add(const MeshPeer& peer) {
  std::lock_guard lock(mu_);
  add_locked(peer);
  spdlog::info("mesh: added sibling {}", peer.name);
}

void MeshMembership::remove(const std::string& name) {
  std::shared_ptr<MeshLink> link;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(peers_.begin(), peers_.end(),
                           [&](const MeshPeer& p) { return p.name == name || p.url == name; });
    if (it == peers_.end()) {
      throw MembershipError(MembershipError::Kind::kNotMember,
                            "\"" + name + "\" is not a sibling of this node");
    }
    link = detach_locked(static_cast<std::size_t>(it - peers_.begin()));
  }
  // Outside the lock: stopping waits for the link's coroutine, which drops its routes.
  link->stop();
  spdlog::info("mesh: removed sibling {}", name);
}

MembershipChange MeshMembership::set_peers(const std::vector<MeshPeer>& peers) {
  MembershipChange change;
  std::vector<std::shared_ptr<MeshLink>> stopping;
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = peers_.size(); i-- > 0;) {
      bool kept = std::any_of(peers.begin(), peers.end(),
                              [&](const MeshPeer& p) { return p.name == peers_[i].name; });
      if (kept) continue;
      change.removed.insert(change.removed.begin(), peers_[i].name);
      stopping.push_back(detach_locked(i));
    }
    for (const auto& p : peers) {
      bool known = std::any_of(peers_.begin(), peers_.end(),
                               [&](const MeshPeer& q) { return q.name == p.name; });
      if (known) continue;
      add_locked(p);
      change.added.push_back(p.name);
    }
  }
  for (auto& link : stopping) link->stop();
  return change;
}

std::vector<std::string> MeshMembership::names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& p : peers_) out.push_back(p.name);
  return out;
}

std::vector<std::shared_ptr<MeshLink>> MeshMembership::links() const {
  std::lock_guard lock(mu_);
  return links_;
}

void MeshMembership::stop_all() {
  std::vector<std::shared_ptr<MeshLink>> all;
  {
    std::lock_guard lock(mu_);
    all = links_;
  }
  for (auto& link : all) link->stop();
}

}  // namespace derp::mesh
