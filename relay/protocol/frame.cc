#include "relay/protocol/frame.h"

#include <algorithm>
#include <cstring>

namespace derp::protocol {
namespace {

std::uint32_t read_be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

void put_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// Appends a header and returns the offset where the payload starts.
std::size_t begin_frame(std::vector<std::uint8_t>& out, FrameType type, std::size_t payload_len) {
  std::size_t at = out.size();
  out.resize(at + kFrameHeaderLen + payload_len);
  write_frame_header(out.data() + at, type, static_cast<std::uint32_t>(payload_len));
  return at + kFrameHeaderLen;
}

template <class T>
Parsed<T> fail(FrameError e) {
  return Parsed<T>{T{}, e};
}

}  // namespace

std::string_view to_string(FrameError e) {
  switch (e) {
    case FrameError::kNone:
      return "ok";
    case FrameError::kTooShort:
      return "payload too short";
    case FrameError::kTooLong:
      return "payload too long";
    case FrameError::kBadMagic:
      return "bad magic";
    case FrameError::kBadLength:
      return "wrong payload length";
  }
  return "unknown";
}

std::optional<FrameHeader> parse_frame_header(Bytes in) {
  if (in.size() < kFrameHeaderLen) return std::nullopt;
  return FrameHeader{in[0], read_be32(in.data() + 1)};
}

void write_frame_header(std::uint8_t* out, FrameType type, std::uint32_t payload_len) {
  out[0] = static_cast<std::uint8_t>(type);
  put_be32(out + 1, payload_len);
}

Parsed<ClientInfoFrame> parse_client_info(Bytes payload) {
  if (payload.size() < kMinClientInfoLen) return fail<ClientInfoFrame>(FrameError::kTooShort);
  if (payload.size() > kMaxClientInfoLen) return fail<ClientInfoFrame>(FrameError::kTooLong);
  return {ClientInfoFrame{NodePublic::from_span(payload.first(kKeyLen)), payload.subspan(kKeyLen)}};
}

Parsed<SendPacketFrame> parse_send_packet(Bytes payload) {
  if (payload.size() < kKeyLen) return fail<SendPacketFrame>(FrameError::kTooShort);
  if (payload.size() - kKeyLen > kMaxPacketSize) return fail<SendPacketFrame>(FrameError::kTooLong);
  return {SendPacketFrame{NodePublic::from_span(payload.first(kKeyLen)), payload.subspan(kKeyLen)}};
}

Parsed<ForwardPacketFrame> parse_forward_packet(Bytes payload) {
  if (payload.size() < 2 * kKeyLen) return fail<ForwardPacketFrame>(FrameError::kTooShort);
  if (payload.size() - 2 * kKeyLen > kMaxPacketSize) {
    return fail<ForwardPacketFrame>(FrameError::kTooLong);
  }
  return {ForwardPacketFrame{NodePublic::from_span(payload.first(kKeyLen)),
                             NodePublic::from_span(payload.subspan(kKeyLen, kKeyLen)),
                             payload.subspan(2 * kKeyLen)}};
}

Parsed<bool> parse_note_preferred(Bytes payload) {
  if (payload.size() != 1) return fail<bool>(FrameError::kBadLength);
  return {payload[0] != 0};
}

Parsed<PingData> parse_ping(Bytes payload) {
  if (payload.size() < kMinPingLen) return fail<PingData>(FrameError::kTooShort);
  if (payload.size() > kMaxPingLen) return fail<PingData>(FrameError::kTooLong);
  PingData d;
  std::memcpy(d.data(), payload.data(), d.size());
  return {d};
}

Parsed<NodePublic> parse_close_peer(Bytes payload) {
  if (payload.size() != kKeyLen) return fail<NodePublic>(FrameError::kBadLength);
  return {NodePublic::from_span(payload)};
}

FrameError check_watch_conns(Bytes payload) {
  return payload.empty() ? FrameError::kNone : FrameError::kBadLength;
}

Parsed<NodePublic> parse_server_key(Bytes payload) {
  if (payload.size() < kServerKeyLen) return fail<NodePublic>(FrameError::kTooShort);
  if (!std::equal(kMagic.begin(), kMagic.end(), payload.begin())) {
    return fail<NodePublic>(FrameError::kBadMagic);
  }
  return {NodePublic::from_span(payload.subspan(kMagic.size(), kKeyLen))};
}

Parsed<RecvPacketFrame> parse_recv_packet(Bytes payload) {
  if (payload.size() < kKeyLen) return fail<RecvPacketFrame>(FrameError::kTooShort);
  return {RecvPacketFrame{NodePublic::from_span(payload.first(kKeyLen)), payload.subspan(kKeyLen)}};
}

Parsed<PeerGoneFrame> parse_peer_gone(Bytes payload) {
  if (payload.size() < kKeyLen) return fail<PeerGoneFrame>(FrameError::kTooShort);
  PeerGoneFrame f{NodePublic::from_span(payload.first(kKeyLen)), PeerGoneReason::kDisconnected};
  if (payload.size() > kKeyLen) f.reason = static_cast<PeerGoneReason>(payload[kKeyLen]);
  return {f};
}

Parsed<PeerPresentFrame> parse_peer_present(Bytes payload) {
  if (payload.size() < kKeyLen) return fail<PeerPresentFrame>(FrameError::kTooShort);
  PeerPresentFrame f;
  f.key = NodePublic::from_span(payload.first(kKeyLen));
  if (payload.size() >= kKeyLen + 18) {
    std::memcpy(f.ip.data(), payload.data() + kKeyLen, 16);
    f.port = static_cast<std::uint16_t>(payload[kKeyLen + 16] << 8 | payload[kKeyLen + 17]);
  }
  if (payload.size() >= kKeyLen + 19) f.flags = payload[kKeyLen + 18];
  return {f};
}

Parsed<PingData> parse_pong(Bytes payload) {
  if (payload.size() < kPingDataLen) return fail<PingData>(FrameError::kTooShort);
  PingData d;
  std::memcpy(d.data(), payload.data(), d.size());
  return {d};
}

Parsed<RestartingFrame> parse_restarting(Bytes payload) {
  if (payload.size() < 8) return fail<RestartingFrame>(FrameError::kTooShort);
  return {RestartingFrame{read_be32(payload.data()), read_be32(payload.data() + 4)}};
}

void append_server_key(std::vector<std::uint8_t>& out, const NodePublic& server) {
  std::size_t at = begin_frame(out, FrameType::kServerKey, kServerKeyLen);
  std::memcpy(out.data() + at, kMagic.data(), kMagic.size());
  std::memcpy(out.data() + at + kMagic.size(), server.bytes.data(), kKeyLen);
}

void append_client_info(std::vector<std::uint8_t>& out, const NodePublic& client, Bytes sealed) {
  std::size_t at = begin_frame(out, FrameType::kClientInfo, kKeyLen + sealed.size());
  std::memcpy(out.data() + at, client.bytes.data(), kKeyLen);
  if (!sealed.empty()) std::memcpy(out.data() + at + kKeyLen, sealed.data(), sealed.size());
}

void append_server_info(std::vector<std::uint8_t>& out, Bytes sealed) {
  std::size_t at = begin_frame(out, FrameType::kServerInfo, sealed.size());
  if (!sealed.empty()) std::memcpy(out.data() + at, sealed.data(), sealed.size());
}

void write_recv_packet_prefix(std::uint8_t* out, const NodePublic& src, std::size_t packet_len) {
  write_frame_header(out, FrameType::kRecvPacket, static_cast<std::uint32_t>(kKeyLen + packet_len));
  std::memcpy(out + kFrameHeaderLen, src.bytes.data(), kKeyLen);
}

namespace {
void append_key_and_packet(std::vector<std::uint8_t>& out, FrameType type, const NodePublic& key,
                           Bytes packet) {
  std::size_t at = begin_frame(out, type, kKeyLen + packet.size());
  std::memcpy(out.data() + at, key.bytes.data(), kKeyLen);
  if (!packet.empty()) std::memcpy(out.data() + at + kKeyLen, packet.data(), packet.size());
}
}  // namespace

void append_send_packet(std::vector<std::uint8_t>& out, const NodePublic& dst, Bytes packet) {
  append_key_and_packet(out, FrameType::kSendPacket, dst, packet);
}

void append_recv_packet(std::vector<std::uint8_t>& out, const NodePublic& src, Bytes packet) {
  append_key_and_packet(out, FrameType::kRecvPacket, src, packet);
}

void write_forward_packet(std::uint8_t* out, const NodePublic& src, const NodePublic& dst,
                          Bytes packet) {
  write_frame_header(out, FrameType::kForwardPacket,
                     static_cast<std::uint32_t>(2 * kKeyLen + packet.size()));
  std::memcpy(out + kFrameHeaderLen, src.bytes.data(), kKeyLen);
  std::memcpy(out + kFrameHeaderLen + kKeyLen, dst.bytes.data(), kKeyLen);
  if (!packet.empty())
    std::memcpy(out + kFrameHeaderLen + 2 * kKeyLen, packet.data(), packet.size());
}

void append_forward_packet(std::vector<std::uint8_t>& out, const NodePublic& src,
                           const NodePublic& dst, Bytes packet) {
  const std::size_t at = out.size();
  out.resize(at + forward_packet_frame_size(packet.size()));
  write_forward_packet(out.data() + at, src, dst, packet);
}

void write_pong(std::uint8_t* out, const PingData& data) {
  write_frame_header(out, FrameType::kPong, kPingDataLen);
  std::memcpy(out + kFrameHeaderLen, data.data(), kPingDataLen);
}

void append_keep_alive(std::vector<std::uint8_t>& out) {
  begin_frame(out, FrameType::kKeepAlive, 0);
}

void append_note_preferred(std::vector<std::uint8_t>& out, bool preferred) {
  std::size_t at = begin_frame(out, FrameType::kNotePreferred, 1);
  out[at] = preferred ? 1 : 0;
}

void append_peer_gone(std::vector<std::uint8_t>& out, const NodePublic& key, PeerGoneReason why) {
  std::size_t at = begin_frame(out, FrameType::kPeerGone, kKeyLen + 1);
  std::memcpy(out.data() + at, key.bytes.data(), kKeyLen);
  out[at + kKeyLen] = static_cast<std::uint8_t>(why);
}

void append_peer_present(std::vector<std::uint8_t>& out, const PeerPresentFrame& p) {
  std::size_t at = begin_frame(out, FrameType::kPeerPresent, kKeyLen + 16 + 2 + 1);
  std::uint8_t* o = out.data() + at;
  std::memcpy(o, p.key.bytes.data(), kKeyLen);
  std::memcpy(o + kKeyLen, p.ip.data(), 16);
  o[kKeyLen + 16] = static_cast<std::uint8_t>(p.port >> 8);
  o[kKeyLen + 17] = static_cast<std::uint8_t>(p.port);
  o[kKeyLen + 18] = p.flags;
}

void append_watch_conns(std::vector<std::uint8_t>& out) {
  begin_frame(out, FrameType::kWatchConns, 0);
}

void append_close_peer(std::vector<std::uint8_t>& out, const NodePublic& key) {
  std::size_t at = begin_frame(out, FrameType::kClosePeer, kKeyLen);
  std::memcpy(out.data() + at, key.bytes.data(), kKeyLen);
}

namespace {
void append_ping_like(std::vector<std::uint8_t>& out, FrameType type, const PingData& data) {
  std::size_t at = begin_frame(out, type, data.size());
  std::memcpy(out.data() + at, data.data(), data.size());
}
}  // namespace

void append_ping(std::vector<std::uint8_t>& out, const PingData& d) {
  append_ping_like(out, FrameType::kPing, d);
}
void append_pong(std::vector<std::uint8_t>& out, const PingData& d) {
  append_ping_like(out, FrameType::kPong, d);
}

void append_health(std::vector<std::uint8_t>& out, std::string_view problem) {
  std::size_t at = begin_frame(out, FrameType::kHealth, problem.size());
  if (!problem.empty()) std::memcpy(out.data() + at, problem.data(), problem.size());
}

void append_restarting(std::vector<std::uint8_t>& out, const RestartingFrame& r) {
  std::size_t at = begin_frame(out, FrameType::kRestarting, 8);
  put_be32(out.data() + at, r.reconnect_in_ms);
  put_be32(out.data() + at + 4, r.try_for_ms);
}

bool looks_like_disco(Bytes packet) {
  return packet.size() >= kMinDiscoLen &&
         std::equal(kDiscoMagic.begin(), kDiscoMagic.end(), packet.begin());
}

}  // namespace derp::protocol
