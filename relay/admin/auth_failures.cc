#include "relay/admin/auth_failures.h"

namespace derp::admin {

AuthFailures::Clock::duration AuthFailures::locked_for(const std::string& peer,
                                                       Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end() || it->second.locked_until <= now) return Clock::duration::zero();
  return it->second.locked_until - now;
}

void AuthFailures::forget_stale(Clock::time_point now) {
  for (auto it = peers_.begin(); it != peers_.end();) {
    const bool stale = now - it->second.first_failure >= kWindow && it->second.locked_until <= now;
    it = stale ? peers_.erase(it) : std::next(it);
  }
}

int AuthFailures::record_failure(const std::string& peer, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (peers_.size() >= kMaxPeers && !peers_.count(peer)) {
    forget_stale(now);
    // Still full of active guessers: they are all being refused anyway; do not grow.
    if (peers_.size() >= kMaxPeers) return kMaxFailures;
  }
  Peer& p = peers_[peer];
  if (p.failures == 0 || now - p.first_failure >= kWindow) {
    p.first_failure = now;
    p.failures = 0;
  }
  if (++p.failures >= kMaxFailures) p.locked_until = now + kLockout;
  return p.failures;
}

void AuthFailures::record_success(const std::string& peer) {
  std::lock_guard lock(mu_);
  peers_.erase(peer);
}

std::string peer_host(const std::string& grpc_peer) {
  const auto colon = grpc_peer.rfind(':');
  const auto scheme = grpc_peer.find(':');
  if (colon == std::string::npos || colon == scheme) return grpc_peer;
  return grpc_peer.substr(0, colon);
}

}  // namespace derp::admin
