// How the core names one client connection across threads.
#pragma once

#include <cstdint>

namespace derp::server {

class ClientSession;

struct ConnRef {
  std::uint32_t worker = 0;
  std::uint64_t conn_id = 0;
  // Only dereferenced on worker `worker`'s own thread, or under the registry shard lock that
  // keeps the session registered (sessions unregister under that lock before they die).
  ClientSession* session = nullptr;
};

}  // namespace derp::server
