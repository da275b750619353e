// The packet pool hands out buffers with room for what was asked, whatever was freed before: a
// 64 KiB packet forwarded to a mesh sibling (the largest frame derpd builds) once got a recycled
// RecvPacket-sized buffer 32 bytes too short and overwrote the heap.
#include "relay/server/packet_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "relay/protocol/constants.h"
#include "relay/protocol/frame.h"

namespace derp::server {
namespace {

TEST(PacketPool, ARecycledBufferAlwaysHasRoomForTheLargestFrame) {
  const std::size_t recv = protocol::kMaxRecvPacketFrameLen;
  const std::size_t forward = protocol::forward_packet_frame_size(protocol::kMaxPacketSize);
  ASSERT_GT(forward, recv);
  for (std::size_t first : {std::size_t{3000}, recv, forward}) {
    { auto freed = allocate_packet(first); }  // joins this thread's free list
    auto b = allocate_packet(forward);
    ASSERT_GE(b->capacity, forward) << "after freeing a buffer of " << first;
    ASSERT_EQ(b->size, forward);
    std::memset(b->data(), 0xab, b->size);  // ASan: within the allocation
  }
}

TEST(PacketPool, OversizedRequestsGetABufferOfTheirOwn) {
  { auto freed = allocate_packet(protocol::kMaxRecvPacketFrameLen); }
  const std::size_t huge = 200000;
  auto b = allocate_packet(huge);
  ASSERT_GE(b->capacity, huge);
  std::memset(b->data(), 0, huge);
}

TEST(PacketPool, SmallRequestsFitTheirBuffer) {
  std::vector<PacketRef> held;
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{1200}, std::size_t{2000}}) {
    held.push_back(allocate_packet(size));
    EXPECT_GE(held.back()->capacity, size);
    std::memset(held.back()->data(), 1, size);
  }
}

}  // namespace
}  // namespace derp::server
