// Frame-in / frame-out tables from protocol §12 and the malformed cases of §2.2 and §2.6.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "relay/protocol/frame.h"
#include "tests/support/hex.h"
#include "tests/unit/protocol/vectors.h"

namespace derp::protocol {
namespace {

using testing::from_hex;

NodePublic key_a() {
  return *parse_node_public(testing::kClientAPublic);
}
NodePublic key_b() {
  return *parse_node_public(testing::kClientBPublic);
}
NodePublic key_s() {
  return *parse_node_public(testing::kServerSPublic);
}
std::vector<std::uint8_t> hello() {
  return {'h', 'e', 'l', 'l', 'o'};
}

struct WriterCase {
  const char* description;
  std::function<void(std::vector<std::uint8_t>&)> write;
  const char* expected_hex;
};

class FrameWriter : public ::testing::TestWithParam<WriterCase> {};

TEST_P(FrameWriter, WritesTheSpecBytes) {
  std::vector<std::uint8_t> out;
  GetParam().write(out);
  EXPECT_EQ(out, from_hex(GetParam().expected_hex)) << GetParam().description;
}

const PingData kPing = {1, 2, 3, 4, 5, 6, 7, 8};

INSTANTIATE_TEST_SUITE_P(
    Spec12, FrameWriter,
    ::testing::Values(
        WriterCase{"ServerKey §12.2", [](auto& o) { append_server_key(o, key_s()); },
                   "01 00 00 00 28 44 45 52 50 f0 9f 94 91 d7 b5 e8 1d 33 6e 57 8b 13 b8 d7 06 e8 "
                   "2d 06 1e 30 38 c9 6b ce 66 cd cf 50 d5 66 b9 6d db ba 10"},
        WriterCase{"SendPacket A→B §12.5", [](auto& o) { append_send_packet(o, key_b(), hello()); },
                   "04 00 00 00 25 ef 38 b4 ab d1 4b 0a 91 9c be 68 39 f6 18 5b 97 d3 26 07 be e3 "
                   "59 c6 c5 3c 12 cc 75 97 86 7d 59 68 65 6c 6c 6f"},
        WriterCase{"RecvPacket to B §12.5",
                   [](auto& o) { append_recv_packet(o, key_a(), hello()); },
                   "05 00 00 00 25 91 77 b2 32 78 cb f0 f3 d1 7c 36 f2 ac c9 b5 5e 9c 85 f8 7b 22 "
                   "0a 53 86 ec 37 0d 66 3e 20 e3 37 68 65 6c 6c 6f"},
        WriterCase{"ForwardPacket §12.5",
                   [](auto& o) { append_forward_packet(o, key_a(), key_b(), hello()); },
                   "0a 00 00 00 45 91 77 b2 32 78 cb f0 f3 d1 7c 36 f2 ac c9 b5 5e 9c 85 f8 7b 22 "
                   "0a 53 86 ec 37 0d 66 3e 20 e3 37 ef 38 b4 ab d1 4b 0a 91 9c be 68 39 f6 18 5b "
                   "97 d3 26 07 be e3 59 c6 c5 3c 12 cc 75 97 86 7d 59 68 65 6c 6c 6f"},
        WriterCase{"KeepAlive", [](auto& o) { append_keep_alive(o); }, "06 00 00 00 00"},
        WriterCase{"NotePreferred(true)", [](auto& o) { append_note_preferred(o, true); },
                   "07 00 00 00 01 01"},
        WriterCase{"WatchConns", [](auto& o) { append_watch_conns(o); }, "10 00 00 00 00"},
        WriterCase{"Ping", [](auto& o) { append_ping(o, kPing); },
                   "12 00 00 00 08 01 02 03 04 05 06 07 08"},
        WriterCase{"Pong", [](auto& o) { append_pong(o, kPing); },
                   "13 00 00 00 08 01 02 03 04 05 06 07 08"},
        WriterCase{"Restarting(5000,10000)",
                   [](auto& o) {
                     append_restarting(o, {5000, 10000});
                   },
                   "15 00 00 00 08 00 00 13 88 00 00 27 10"},
        WriterCase{"Health(duplicate)", [](auto& o) { append_health(o, "duplicate"); },
                   "14 00 00 00 09 64 75 70 6c 69 63 61 74 65"},
        WriterCase{"Health(clear)", [](auto& o) { append_health(o, ""); }, "14 00 00 00 00"},
        WriterCase{"ClosePeer(B)", [](auto& o) { append_close_peer(o, key_b()); },
                   "11 00 00 00 20 ef 38 b4 ab d1 4b 0a 91 9c be 68 39 f6 18 5b 97 d3 26 07 be e3 "
                   "59 c6 c5 3c 12 cc 75 97 86 7d 59"},
        WriterCase{"PeerGone(A, Disconnected)",
                   [](auto& o) { append_peer_gone(o, key_a(), PeerGoneReason::kDisconnected); },
                   "08 00 00 00 21 91 77 b2 32 78 cb f0 f3 d1 7c 36 f2 ac c9 b5 5e 9c 85 f8 7b 22 "
                   "0a 53 86 ec 37 0d 66 3e 20 e3 37 00"},
        WriterCase{"PeerGone(B, NotHere)",
                   [](auto& o) { append_peer_gone(o, key_b(), PeerGoneReason::kNotHere); },
                   "08 00 00 00 21 ef 38 b4 ab d1 4b 0a 91 9c be 68 39 f6 18 5b 97 d3 26 07 be e3 "
                   "59 c6 c5 3c 12 cc 75 97 86 7d 59 01"},
        WriterCase{"PeerPresent(A, 192.0.2.1:41641, IsRegular)",
                   [](auto& o) {
                     PeerPresentFrame p;
                     p.key = key_a();
                     p.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
                     p.port = 41641;
                     p.flags = kPeerPresentIsRegular;
                     append_peer_present(o, p);
                   },
                   "09 00 00 00 33 91 77 b2 32 78 cb f0 f3 d1 7c 36 f2 ac c9 b5 5e 9c 85 f8 7b 22 "
                   "0a 53 86 ec 37 0d 66 3e 20 e3 37 00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 "
                   "01 a2 a9 01"}));

std::vector<std::uint8_t> payload(std::size_t n, std::uint8_t fill = 0x42) {
  return std::vector<std::uint8_t>(n, fill);
}

TEST(FrameHeader, NeedsFiveBytes) {
  EXPECT_FALSE(parse_frame_header(from_hex("04 00 00 00")));
  auto h = parse_frame_header(from_hex("04 00 01 00 25 ff"));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, 0x04);
  EXPECT_EQ(h->length, 0x10025u);
  auto big = parse_frame_header(from_hex("7f ff ff ff ff"));
  EXPECT_EQ(big->length, 0xffffffffu);
}

TEST(ServerSideLimits, SendPacket) {
  EXPECT_EQ(parse_send_packet(payload(31)).error, FrameError::kTooShort);
  auto empty = parse_send_packet(payload(32));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty.value.packet.empty());
  EXPECT_TRUE(parse_send_packet(payload(32 + kMaxPacketSize)));
  EXPECT_EQ(parse_send_packet(payload(33 + kMaxPacketSize)).error, FrameError::kTooLong);
  auto p = parse_send_packet(
      from_hex("ef38b4abd14b0a919cbe6839f6185b97d32607bee359c6c53c12cc7597867d59 68656c6c6f"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p.value.dst, key_b());
  EXPECT_EQ(p.value.packet.size(), 5u);
}

TEST(ServerSideLimits, ForwardPacket) {
  EXPECT_EQ(parse_forward_packet(payload(63)).error, FrameError::kTooShort);
  EXPECT_TRUE(parse_forward_packet(payload(64)));
  EXPECT_TRUE(parse_forward_packet(payload(64 + kMaxPacketSize)));
  EXPECT_EQ(parse_forward_packet(payload(65 + kMaxPacketSize)).error, FrameError::kTooLong);
}

TEST(ServerSideLimits, ClientInfo) {
  EXPECT_EQ(parse_client_info(payload(55)).error, FrameError::kTooShort);
  EXPECT_TRUE(parse_client_info(payload(56)));
  EXPECT_TRUE(parse_client_info(payload(kMaxClientInfoLen)));
  EXPECT_EQ(parse_client_info(payload(kMaxClientInfoLen + 1)).error, FrameError::kTooLong);
}

TEST(ServerSideLimits, PingEchoesFirstEightBytes) {
  EXPECT_EQ(parse_ping(payload(7)).error, FrameError::kTooShort);
  auto p = parse_ping(from_hex("01 02 03 04 05 06 07 08 09 0a"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p.value, kPing);
  EXPECT_TRUE(parse_ping(payload(1000)));
  EXPECT_EQ(parse_ping(payload(1001)).error, FrameError::kTooLong);
}

TEST(ServerSideLimits, ExactLengthFrames) {
  EXPECT_EQ(parse_note_preferred({}).error, FrameError::kBadLength);
  EXPECT_EQ(parse_note_preferred(payload(2)).error, FrameError::kBadLength);
  EXPECT_TRUE(parse_note_preferred(from_hex("00")));
  EXPECT_FALSE(parse_note_preferred(from_hex("00")).value);
  EXPECT_TRUE(parse_note_preferred(from_hex("07")).value);  // any non-zero byte means preferred
  EXPECT_EQ(check_watch_conns(payload(1)), FrameError::kBadLength);
  EXPECT_EQ(check_watch_conns({}), FrameError::kNone);
  EXPECT_EQ(parse_close_peer(payload(31)).error, FrameError::kBadLength);
  EXPECT_EQ(parse_close_peer(payload(33)).error, FrameError::kBadLength);
  EXPECT_TRUE(parse_close_peer(payload(32)));
}

TEST(ClientSideRules, ServerKey) {
  auto frame = from_hex(
      "44 45 52 50 f0 9f 94 91 d7 b5 e8 1d 33 6e 57 8b 13 b8 d7 06 e8 2d 06 1e "
      "30 38 c9 6b ce 66 cd cf 50 d5 66 b9 6d db ba 10");
  auto k = parse_server_key(frame);
  ASSERT_TRUE(k);
  EXPECT_EQ(k.value, key_s());
  frame.push_back(0x99);  // future bytes are ignored
  EXPECT_TRUE(parse_server_key(frame));
  EXPECT_EQ(parse_server_key(std::span(frame).first(39)).error, FrameError::kTooShort);
  frame[0] = 'X';
  EXPECT_EQ(parse_server_key(frame).error, FrameError::kBadMagic);
}

TEST(ClientSideRules, PeerGoneAcceptsOldThirtyTwoByteForm) {
  auto old_form = parse_peer_gone(key_a().bytes);
  ASSERT_TRUE(old_form);
  EXPECT_EQ(old_form.value.reason, PeerGoneReason::kDisconnected);
  EXPECT_EQ(parse_peer_gone(payload(31)).error, FrameError::kTooShort);
}

TEST(ClientSideRules, PeerPresentAcceptsEveryLength) {
  auto p32 = parse_peer_present(payload(32, 1));
  ASSERT_TRUE(p32);
  EXPECT_EQ(p32.value.flags, 0);
  auto p50 = parse_peer_present(payload(50, 1));
  EXPECT_EQ(p50.value.port, 0x0101);
  EXPECT_EQ(p50.value.flags, 0);
  auto p60 = parse_peer_present(payload(60, 2));
  EXPECT_EQ(p60.value.flags, 2);
  EXPECT_FALSE(parse_peer_present(payload(10)));
}

TEST(ClientSideRules, ShortFramesAreRefused) {
  EXPECT_FALSE(parse_recv_packet(payload(31)));
  EXPECT_FALSE(parse_pong(payload(7)));
  EXPECT_FALSE(parse_restarting(payload(7)));
  auto r = parse_restarting(from_hex("00 00 13 88 00 00 27 10"));
  EXPECT_EQ(r.value.reconnect_in_ms, 5000u);
  EXPECT_EQ(r.value.try_for_ms, 10000u);
}

TEST(Disco, MagicAndMinimumLength) {
  auto disco = payload(kMinDiscoLen);
  std::copy(kDiscoMagic.begin(), kDiscoMagic.end(), disco.begin());
  EXPECT_TRUE(looks_like_disco(disco));
  disco.pop_back();
  EXPECT_FALSE(looks_like_disco(disco));
  EXPECT_FALSE(looks_like_disco(payload(100)));
}

TEST(RecvPacketPrefix, MatchesTheVectorWriter) {
  std::vector<std::uint8_t> expected;
  append_recv_packet(expected, key_a(), hello());
  std::vector<std::uint8_t> fast(kFrameHeaderLen + kKeyLen + 5);
  write_recv_packet_prefix(fast.data(), key_a(), 5);
  auto packet = hello();
  std::copy(packet.begin(), packet.end(), fast.begin() + kFrameHeaderLen + kKeyLen);
  EXPECT_EQ(fast, expected);
}

// The mesh writes its frames straight into pooled buffers; they must equal the vector writers
// (whose bytes the §12 vectors pin down).
TEST(MeshFrameWriters, MatchTheVectorWriters) {
  std::vector<std::uint8_t> expected;
  append_forward_packet(expected, key_a(), key_b(), hello());
  std::vector<std::uint8_t> direct(forward_packet_frame_size(hello().size()));
  write_forward_packet(direct.data(), key_a(), key_b(), hello());
  EXPECT_EQ(direct, expected);

  const PingData data{1, 2, 3, 4, 5, 6, 7, 8};
  expected.clear();
  append_pong(expected, data);
  std::vector<std::uint8_t> pong(kPongFrameLen);
  write_pong(pong.data(), data);
  EXPECT_EQ(pong, expected);
}

}  // namespace
}  // namespace derp::protocol
