// Failed admin-API authentication per peer address: a peer that fails kMaxFailures times within
// kWindow is refused outright for kLockout, so guessing the token runs at a few tries a minute
// instead of thousands a second. Bounded: at most kMaxPeers addresses are tracked. Thread-safe
// (gRPC calls run concurrently).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace derp::admin {

class AuthFailures {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kMaxFailures = 5;
  static constexpr std::chrono::seconds kWindow{60};
  static constexpr std::chrono::seconds kLockout{30};
  static constexpr std::size_t kMaxPeers = 4096;

  // How long `peer` stays refused; zero when it may try.
  Clock::duration locked_for(const std::string& peer, Clock::time_point now);
  // Returns the peer's failures within the window, this one included.
  int record_failure(const std::string& peer, Clock::time_point now);
  void record_success(const std::string& peer);

 private:
  struct Peer {
    Clock::time_point first_failure{};
    int failures = 0;
    Clock::time_point locked_until{};
  };
  void forget_stale(Clock::time_point now);
  std::mutex mu_;
  std::unordered_map<std::string, Peer> peers_;
};

// "ipv4:192.0.2.1:5555" → "ipv4:192.0.2.1", "ipv6:[::1]:5555" → "ipv6:[::1]": gRPC's peer string
// without the port, so one host's reconnects count together.
std::string peer_host(const std::string& grpc_peer);

}  // namespace derp::admin
