// Wire constants of the DERP protocol (protocol §2.2, §2.3).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace derp::protocol {

inline constexpr std::array<std::uint8_t, 8> kMagic = {0x44, 0x45, 0x52, 0x50,
                                                       0xf0, 0x9f, 0x94, 0x91};
inline constexpr int kProtocolVersion = 2;
inline constexpr std::size_t kKeyLen = 32;
inline constexpr std::size_t kNonceLen = 24;
inline constexpr std::size_t kBoxOverhead = 16;  // Poly1305 MAC
inline constexpr std::size_t kFrameHeaderLen = 5;
inline constexpr std::size_t kMaxPacketSize = 64 * 1024;
inline constexpr std::size_t kMinClientInfoLen = kKeyLen + kNonceLen;
inline constexpr std::size_t kMaxClientInfoLen = 256 * 1024;
inline constexpr std::size_t kMinPingLen = 8;
inline constexpr std::size_t kMaxPingLen = 1000;
inline constexpr std::size_t kPingDataLen = 8;
inline constexpr std::size_t kServerKeyLen = kMagic.size() + kKeyLen;
// Receivers (clients) treat any frame longer than this as fatal.
inline constexpr std::size_t kMaxClientFrameLen = 1 << 20;
// The largest frame a server ever writes: RecvPacket with a full-size packet.
inline constexpr std::size_t kMaxRecvPacketFrameLen = kFrameHeaderLen + kKeyLen + kMaxPacketSize;

enum class FrameType : std::uint8_t {
  kServerKey = 0x01,
  kClientInfo = 0x02,
  kServerInfo = 0x03,
  kSendPacket = 0x04,
  kRecvPacket = 0x05,
  kKeepAlive = 0x06,
  kNotePreferred = 0x07,
  kPeerGone = 0x08,
  kPeerPresent = 0x09,
  kForwardPacket = 0x0a,
  kWatchConns = 0x10,
  kClosePeer = 0x11,
  kPing = 0x12,
  kPong = 0x13,
  kHealth = 0x14,
  kRestarting = 0x15,
};

enum class PeerGoneReason : std::uint8_t {
  kDisconnected = 0x00,
  kNotHere = 0x01,
};

// PeerPresent flag bits (protocol §2.3.1).
inline constexpr std::uint8_t kPeerPresentIsRegular = 0x01;
inline constexpr std::uint8_t kPeerPresentIsMeshPeer = 0x02;
inline constexpr std::uint8_t kPeerPresentIsProber = 0x04;
inline constexpr std::uint8_t kPeerPresentNotIdeal = 0x08;

// Disco packets start with "TS" + U+1F4AC and are at least this long (protocol §4.4).
inline constexpr std::array<std::uint8_t, 6> kDiscoMagic = {0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac};
inline constexpr std::size_t kMinDiscoLen = kDiscoMagic.size() + kKeyLen + kNonceLen;

}  // namespace derp::protocol
