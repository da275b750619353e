// DERP frame codec (protocol §2): pure functions over byte spans, no I/O and no allocation
// except in the append_* helpers that grow a caller's vector.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "relay/protocol/constants.h"
#include "relay/protocol/key.h"

namespace derp::protocol {

using Bytes = std::span<const std::uint8_t>;

struct FrameHeader {
  std::uint8_t type = 0;  // raw: unknown types are legal on the wire
  std::uint32_t length = 0;
};

// Why a payload was refused. The server closes the connection on any of these (protocol §2.6).
enum class FrameError {
  kNone,
  kTooShort,
  kTooLong,
  kBadMagic,
  kBadLength,
};
std::string_view to_string(FrameError e);

template <class T>
struct Parsed {
  T value{};
  FrameError error = FrameError::kNone;
  explicit operator bool() const { return error == FrameError::kNone; }
};

// Returns the header if at least kFrameHeaderLen bytes are available.
std::optional<FrameHeader> parse_frame_header(Bytes in);
void write_frame_header(std::uint8_t* out, FrameType type, std::uint32_t payload_len);

// ---- payloads a server reads (server-side limits of protocol §2.2) ----
struct ClientInfoFrame {
  NodePublic key;
  Bytes sealed;  // nonce ‖ box
};
struct SendPacketFrame {
  NodePublic dst;
  Bytes packet;
};
struct ForwardPacketFrame {
  NodePublic src;
  NodePublic dst;
  Bytes packet;
};
using PingData = std::array<std::uint8_t, kPingDataLen>;

Parsed<ClientInfoFrame> parse_client_info(Bytes payload);
Parsed<SendPacketFrame> parse_send_packet(Bytes payload);
Parsed<ForwardPacketFrame> parse_forward_packet(Bytes payload);
Parsed<bool> parse_note_preferred(Bytes payload);
Parsed<PingData> parse_ping(Bytes payload);  // server: 8..1000 bytes, echoes the first 8
Parsed<NodePublic> parse_close_peer(Bytes payload);
FrameError check_watch_conns(Bytes payload);

// ---- payloads a client reads (client-side rules of protocol §2.6) ----
struct RecvPacketFrame {
  NodePublic src;
  Bytes packet;
};
struct PeerGoneFrame {
  NodePublic key;
  PeerGoneReason reason = PeerGoneReason::kDisconnected;
};
struct PeerPresentFrame {
  NodePublic key;
  std::array<std::uint8_t, 16> ip{};  // IPv4 is v4-mapped
  std::uint16_t port = 0;
  std::uint8_t flags = 0;  // 0: the sender did not say
};
struct RestartingFrame {
  std::uint32_t reconnect_in_ms = 0;
  std::uint32_t try_for_ms = 0;
};

Parsed<NodePublic> parse_server_key(Bytes payload);
Parsed<RecvPacketFrame> parse_recv_packet(Bytes payload);
Parsed<PeerGoneFrame> parse_peer_gone(Bytes payload);
Parsed<PeerPresentFrame> parse_peer_present(Bytes payload);
Parsed<PingData> parse_pong(Bytes payload);
Parsed<RestartingFrame> parse_restarting(Bytes payload);

// ---- writers: each appends one whole frame to `out` ----
void append_server_key(std::vector<std::uint8_t>& out, const NodePublic& server);
void append_client_info(std::vector<std::uint8_t>& out, const NodePublic& client, Bytes sealed);
void append_server_info(std::vector<std::uint8_t>& out, Bytes sealed);
void append_send_packet(std::vector<std::uint8_t>& out, const NodePublic& dst, Bytes packet);
void append_recv_packet(std::vector<std::uint8_t>& out, const NodePublic& src, Bytes packet);
void append_forward_packet(std::vector<std::uint8_t>& out, const NodePublic& src,
                           const NodePublic& dst, Bytes packet);
void append_keep_alive(std::vector<std::uint8_t>& out);
void append_note_preferred(std::vector<std::uint8_t>& out, bool preferred);
void append_peer_gone(std::vector<std::uint8_t>& out, const NodePublic& key, PeerGoneReason why);
void append_peer_present(std::vector<std::uint8_t>& out, const PeerPresentFrame& p);
void append_watch_conns(std::vector<std::uint8_t>& out);
void append_close_peer(std::vector<std::uint8_t>& out, const NodePublic& key);
void append_ping(std::vector<std::uint8_t>& out, const PingData& data);
void append_pong(std::vector<std::uint8_t>& out, const PingData& data);
void append_health(std::vector<std::uint8_t>& out, std::string_view problem);
void append_restarting(std::vector<std::uint8_t>& out, const RestartingFrame& r);

// Writes a RecvPacket header and source key into `out` (kFrameHeaderLen + kKeyLen bytes); the
// caller copies the packet after it. This is the hot path: no vector, no allocation.
void write_recv_packet_prefix(std::uint8_t* out, const NodePublic& src, std::size_t packet_len);
// The same for the mesh's frames, written whole into a buffer of exactly their size: a
// ForwardPacket of forward_packet_frame_size(packet.size()) bytes, a Pong of kPongFrameLen.
constexpr std::size_t forward_packet_frame_size(std::size_t packet_len) {
  return kFrameHeaderLen + 2 * kKeyLen + packet_len;
}
void write_forward_packet(std::uint8_t* out, const NodePublic& src, const NodePublic& dst,
                          Bytes packet);
inline constexpr std::size_t kPongFrameLen = kFrameHeaderLen + kPingDataLen;
void write_pong(std::uint8_t* out, const PingData& data);

bool looks_like_disco(Bytes packet);

}  // namespace derp::protocol
