// Who may send how fast (protocol §4.7): the node's default receive limit (--rate-config) and the
// per-key overrides set through the admin API (`derpctl client limit`). Sessions ask once, when
// they establish; apply_receive_rates() (admin_queries.h) pushes a change to connected ones.
// Mesh peers are never limited, whatever is set here.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "relay/limits/receive_rate.h"
#include "relay/protocol/key.h"

namespace derp::server {

class RatePolicy {
 public:
  struct Choice {
    limits::ReceiveRate rate;
    bool overridden = false;  // set for this key through the admin API
  };
  Choice for_key(const protocol::NodePublic& key) const;

  void set_default(limits::ReceiveRate rate);
  limits::ReceiveRate default_rate() const;
  // An override with bytes_per_second 0 exempts the key; nullopt removes the override.
  void set_override(const protocol::NodePublic& key, std::optional<limits::ReceiveRate> rate);
  std::vector<std::pair<protocol::NodePublic, limits::ReceiveRate>> overrides() const;
  // A default limit or any override exists (the rate-limit metrics are shown only then).
  bool in_use() const { return in_use_.load(std::memory_order_relaxed); }

 private:
  void update_in_use();

  mutable std::mutex mu_;
  limits::ReceiveRate default_;
  std::unordered_map<protocol::NodePublic, limits::ReceiveRate> overrides_;
  // Lets the common case (no limits at all) skip the lock when a client connects.
  std::atomic<bool> in_use_{false};
};

}  // namespace derp::server
