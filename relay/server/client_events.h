// Connection lifecycle events for watchers outside the data path (the admin API's Watch stream).
// Published on the worker that saw the change, at connection rate, never per packet.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "relay/protocol/key.h"

namespace derp::server {

struct ClientEvent {
  enum class Kind { kConnected, kDisconnected, kHomeChanged };
  Kind kind;
  std::uint64_t conn_id = 0;
  protocol::NodePublic key;
  std::string remote;      // "ip:port"
  bool preferred = false;  // for kHomeChanged
  std::string reason;      // for kDisconnected
};

class ClientEventHub {
 public:
  using Listener = std::function<void(const ClientEvent&)>;
  // Listeners run on worker threads and must not block.
  std::uint64_t subscribe(Listener l) {
    std::lock_guard lock(mu_);
    auto id = next_id_++;
    listeners_.emplace(id, std::move(l));
    has_listeners_.store(true, std::memory_order_relaxed);
    return id;
  }
  void unsubscribe(std::uint64_t id) {
    std::lock_guard lock(mu_);
    listeners_.erase(id);
    has_listeners_.store(!listeners_.empty(), std::memory_order_relaxed);
  }
  void publish(const ClientEvent& e) {
    if (!has_listeners_.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(mu_);
    for (auto& [id, l] : listeners_) l(e);
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::uint64_t, Listener> listeners_;
  std::uint64_t next_id_ = 1;
  std::atomic<bool> has_listeners_{false};
};

}  // namespace derp::server
