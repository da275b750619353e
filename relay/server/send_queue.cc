#include "relay/server/send_queue.h"

namespace derp::server {

PacketRef SendQueue::push(PacketRef p) {
  if (ring_.empty()) ring_.resize(capacity_);
  PacketRef dropped;
  if (count_ == capacity_) dropped = pop();
  ring_[(head_ + count_) % capacity_] = std::move(p);
  ++count_;
  return dropped;
}

PacketRef SendQueue::pop() {
  if (count_ == 0) return {};
  PacketRef p = std::move(ring_[head_]);
  head_ = (head_ + 1) % capacity_;
  --count_;
  return p;
}

void SendQueue::release_if_empty() {
  if (count_ == 0 && !ring_.empty()) {
    std::vector<PacketRef>().swap(ring_);
    head_ = 0;
  }
}

}  // namespace derp::server
