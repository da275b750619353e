// Settings of the relay core, independent of flags and files.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "relay/protocol/key.h"
#include "relay/server/worker_packing.h"

namespace derp::server {

struct ServerConfig {
  protocol::NodePrivate private_key;
  std::optional<protocol::KeyBytes> mesh_key;     // none: nobody gets mesh rights
  std::size_t queue_depth = 32;                   // per queue (disco and other), as the reference
  std::chrono::milliseconds write_timeout{2000};  // 0: none (regular clients)
  std::chrono::milliseconds mesh_write_timeout{30000};
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds keepalive_interval{60000};
  std::chrono::milliseconds keepalive_jitter{5000};
  unsigned workers = 0;  // 0: one per core
  // Clients are packed onto as few workers as the load needs (relay/server/worker_packing.h),
  // judged every packing_interval. Off: connections stay on the worker that accepted them.
  bool pack_workers = true;
  PackingThresholds packing;
  std::chrono::milliseconds packing_interval{1000};
  // Who may use the relay (relay/admission): asked for every client that is not a mesh peer once
  // its ClientInfo has opened, before ServerInfo. It must call `decided` at most once, from any
  // thread; without an answer the handshake times out. Empty: everyone is admitted.
  using AdmissionDecided = std::function<void(bool admit, std::string reason)>;
  std::function<void(const protocol::NodePublic& key,
                     const std::optional<boost::asio::ip::address>& source,
                     AdmissionDecided decided)>
      admit;
  // The core's clock (as derpserver's tstime.Clock, Envoy's TimeSource): tests swap it to check
  // time rules (NotHere limiter, home moves, deadlines) without sleeping. A plain function
  // pointer: the data path reads it once per read or write batch.
  std::chrono::steady_clock::time_point (*clock)() = &std::chrono::steady_clock::now;
};

}  // namespace derp::server
