// A bounded FIFO of relayed packets for one client. When full, the oldest packet is dropped
// (protocol §4.4): fresh packets matter more to a tunnel than stale ones, and the reader never
// blocks.
#pragma once

#include <cstddef>
#include <vector>

#include "relay/server/packet_pool.h"

namespace derp::server {

class SendQueue {
 public:
  explicit SendQueue(std::size_t capacity) : capacity_(capacity) {}

  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  std::size_t capacity() const { return capacity_; }

  // Enqueues `p`. If the queue was full, the oldest packet is returned so the caller can count
  // it as a head drop.
  PacketRef push(PacketRef p);
  PacketRef pop();
  const PacketBuffer& front() const { return *ring_[head_]; }
  // Releases the ring's storage once drained, so idle clients hold no queue memory.
  void release_if_empty();

 private:
  std::size_t capacity_;
  std::vector<PacketRef> ring_;  // allocated on first use
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace derp::server
