// Pooled buffers for relayed frames, so that steady-state relaying allocates nothing.
//
// Each buffer holds one ready-to-write RecvPacket frame. Buffers come in two size classes (most
// packets are WireGuard-sized; a few are up to 64 KiB) and are recycled through bounded
// thread-local free lists: a buffer freed on another worker simply joins that worker's list.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace derp::server {

struct PacketBuffer {
  std::uint32_t capacity = 0;
  std::uint32_t size = 0;
  // Steady clock when derpd read the packet (one stamp per read batch, Server::deliver): the
  // average_queue_duration_ms metric is time spent inside derpd, hand-offs included.
  std::int64_t received_ns = 0;
  bool disco = false;
  std::uint8_t* data() { return reinterpret_cast<std::uint8_t*>(this + 1); }
  const std::uint8_t* data() const { return reinterpret_cast<const std::uint8_t*>(this + 1); }
  std::span<const std::uint8_t> bytes() const { return {data(), size}; }
  // For the RecvPacket frames the core queues: the relayed packet's own length (frame header and
  // source key excluded), the unit of every derp_bytes_* counter.
  std::size_t packet_bytes() const { return size - kRecvPacketFrameOverhead; }
  static constexpr std::size_t kRecvPacketFrameOverhead = 5 + 32;
};

struct PacketBufferDeleter {
  void operator()(PacketBuffer* b) const noexcept;
};
using PacketRef = std::unique_ptr<PacketBuffer, PacketBufferDeleter>;

// Returns a buffer with at least `size` bytes of room and `size` set.
PacketRef allocate_packet(std::size_t size);

}  // namespace derp::server
