#include "relay/server/packet_pool.h"

#include <algorithm>
#include <new>
#include <vector>

#include "relay/protocol/constants.h"
#include "relay/protocol/frame.h"

namespace derp::server {
namespace {

constexpr std::size_t kSmallCapacity = 2048 - sizeof(PacketBuffer);
// The largest frame derpd builds around a packet: a ForwardPacket to a mesh sibling carries two
// keys, so it is 32 bytes longer than a RecvPacket of the same packet.
constexpr std::size_t kLargeCapacity =
    std::max(protocol::kMaxRecvPacketFrameLen,
             protocol::forward_packet_frame_size(protocol::kMaxPacketSize));
constexpr std::size_t kMaxFreeSmall = 8192;  // 16 MiB per thread at most
constexpr std::size_t kMaxFreeLarge = 64;    // 4 MiB per thread at most

struct FreeList {
  // Reserved up front: the deleter that fills them is noexcept, so growing there must not throw.
  FreeList() {
    small.reserve(kMaxFreeSmall);
    large.reserve(kMaxFreeLarge);
  }
  std::vector<PacketBuffer*> small;
  std::vector<PacketBuffer*> large;
  ~FreeList() {
    for (auto* b : small) ::operator delete(b);
    for (auto* b : large) ::operator delete(b);
  }
};

FreeList& free_list() {
  thread_local FreeList list;
  return list;
}

PacketBuffer* fresh(std::size_t capacity) {
  void* mem = ::operator new(sizeof(PacketBuffer) + capacity);
  auto* b = new (mem) PacketBuffer;
  b->capacity = static_cast<std::uint32_t>(capacity);
  return b;
}

}  // namespace

void PacketBufferDeleter::operator()(PacketBuffer* b) const noexcept {
  auto& list = free_list();
  if (b->capacity == kSmallCapacity && list.small.size() < kMaxFreeSmall) {
    list.small.push_back(b);
  } else if (b->capacity == kLargeCapacity && list.large.size() < kMaxFreeLarge) {
    list.large.push_back(b);
  } else {
    ::operator delete(b);
  }
}

PacketRef allocate_packet(std::size_t size) {
  auto& list = free_list();
  PacketBuffer* b;
  if (size <= kSmallCapacity) {
    if (!list.small.empty()) {
      b = list.small.back();
      list.small.pop_back();
    } else {
      b = fresh(kSmallCapacity);
    }
  } else if (size <= kLargeCapacity) {
    if (!list.large.empty()) {
      b = list.large.back();
      list.large.pop_back();
    } else {
      b = fresh(kLargeCapacity);
    }
  } else {
    b = fresh(size);  // larger than any frame derpd builds: never pooled, never reused
  }
  b->size = static_cast<std::uint32_t>(size);
  b->disco = false;
  b->received_ns = 0;
  return PacketRef(b);
}

}  // namespace derp::server
