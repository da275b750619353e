// ClientSession and the core without sockets: bytes in, frames out.
#include <gtest/gtest.h>

#include "relay/server/worker.h"
#include "tests/support/session_harness.h"

namespace derp::testing {
namespace {

using protocol::FrameType;
namespace proto = protocol;

constexpr std::uint8_t type_of(FrameType t) {
  return static_cast<std::uint8_t>(t);
}

proto::ClientInfo plain_info() {
  proto::ClientInfo info;
  info.version = 2;
  info.can_ack_pings = true;
  return info;
}

// Performs the handshake; returns the frames the server wrote.
std::vector<Frame> handshake(SessionUnderTest& s, server::Server& srv,
                             const proto::ClientInfo& info = plain_info()) {
  auto bytes = client_info_frame(s.client_key, srv.public_key(), info);
  EXPECT_TRUE(s.feed(bytes));
  return s.drain();
}

TEST(Session, ServerKeyThenServerInfoAndNothingElse) {
  CoreHarness core;
  SessionUnderTest s(*core.server);
  auto frames = handshake(s, *core.server);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].type, type_of(FrameType::kServerKey));
  EXPECT_EQ(proto::parse_server_key(frames[0].payload).value, core.server->public_key());
  EXPECT_EQ(frames[1].type, type_of(FrameType::kServerInfo));
  auto json = proto::open_box(frames[1].payload, s.client_key, core.server->public_key());
  ASSERT_TRUE(json);
  EXPECT_EQ(std::string(json->begin(), json->end()), R"({"version":2})");
  EXPECT_TRUE(s.session->established());
  EXPECT_EQ(core.server->registry().stats().local_keys, 1u);
}

TEST(Session, FramesSplitAtEveryByteAreReassembled) {
  CoreHarness core;
  SessionUnderTest s(*core.server);
  auto bytes = client_info_frame(s.client_key, core.server->public_key(), plain_info());
  // An unknown frame with a payload to skip, then a Ping, then SendPacket to self.
  std::vector<std::uint8_t> unknown{0x7e, 0, 0, 0, 3, 1, 2, 3};
  bytes.insert(bytes.end(), unknown.begin(), unknown.end());
  proto::append_ping(bytes, {1, 2, 3, 4, 5, 6, 7, 8});
  std::vector<std::uint8_t> packet{'h', 'i'};
  proto::append_send_packet(bytes, s.client_key.public_key(), packet);
  for (auto b : bytes) ASSERT_TRUE(s.feed(proto::Bytes(&b, 1)));
  auto frames = s.drain();
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[2].type, type_of(FrameType::kPong));
  EXPECT_EQ(frames[2].payload, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(frames[3].type, type_of(FrameType::kRecvPacket));
  auto recv = proto::parse_recv_packet(frames[3].payload);
  EXPECT_EQ(recv.value.src, s.client_key.public_key());
  EXPECT_EQ(std::vector<std::uint8_t>(recv.value.packet.begin(), recv.value.packet.end()), packet);
}

TEST(Session, HugeUnknownFrameIsSkippedWithoutBuffering) {
  CoreHarness core;
  SessionUnderTest s(*core.server);
  handshake(s, *core.server);
  std::vector<std::uint8_t> header{0x7f, 0x10, 0, 0, 0};  // 256 MiB declared
  ASSERT_TRUE(s.feed(header));
  std::vector<std::uint8_t> chunk(1 << 20, 0xaa);
  for (int i = 0; i < 256; ++i) ASSERT_TRUE(s.feed(chunk));
  std::vector<std::uint8_t> ping;
  proto::append_ping(ping, {9, 9, 9, 9, 9, 9, 9, 9});
  ASSERT_TRUE(s.feed(ping));
  auto frames = s.drain();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, type_of(FrameType::kPong));
}

struct Violation {
  const char* name;
  std::vector<std::uint8_t> bytes;
};

class ProtocolViolation : public ::testing::TestWithParam<Violation> {};

TEST_P(ProtocolViolation, ClosesTheConnection) {
  CoreHarness core;
  SessionUnderTest s(*core.server);
  handshake(s, *core.server);
  EXPECT_FALSE(s.feed(GetParam().bytes)) << GetParam().name;
  EXPECT_FALSE(s.session->close_reason().empty());
}

std::vector<std::uint8_t> header(FrameType t, std::uint32_t len, std::size_t payload_bytes) {
  std::vector<std::uint8_t> out(proto::kFrameHeaderLen + payload_bytes, 0x11);
  proto::write_frame_header(out.data(), t, len);
  return out;
}

INSTANTIATE_TEST_SUITE_P(
    Spec2_6, ProtocolViolation,
    ::testing::Values(
        Violation{"SendPacket too long", header(FrameType::kSendPacket, 32 + 65537, 0)},
        Violation{"SendPacket too short", header(FrameType::kSendPacket, 31, 31)},
        Violation{"NotePreferred length 2", header(FrameType::kNotePreferred, 2, 2)},
        Violation{"WatchConns with payload", header(FrameType::kWatchConns, 1, 1)},
        Violation{"WatchConns without mesh key", header(FrameType::kWatchConns, 0, 0)},
        Violation{"ClosePeer without mesh key", header(FrameType::kClosePeer, 32, 32)},
        Violation{"ClosePeer length 31", header(FrameType::kClosePeer, 31, 31)},
        Violation{"ForwardPacket without mesh key", header(FrameType::kForwardPacket, 70, 70)},
        Violation{"Ping too short", header(FrameType::kPing, 7, 7)},
        Violation{"Ping too long", header(FrameType::kPing, 1001, 0)}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (auto& c : n)
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

TEST(Session, HandshakeRefusals) {
  CoreHarness core;
  {
    SessionUnderTest s(*core.server);
    EXPECT_FALSE(s.feed(header(FrameType::kSendPacket, 40, 40)));  // not ClientInfo first
  }
  {
    SessionUnderTest s(*core.server);
    auto bytes = client_info_frame(s.client_key, core.server->public_key(), plain_info());
    std::fill(bytes.begin() + 5, bytes.begin() + 37, 0);  // all-zero client key
    EXPECT_FALSE(s.feed(bytes));
  }
  {
    SessionUnderTest s(*core.server);
    auto other = proto::NodePrivate::generate().public_key();  // sealed to the wrong server
    EXPECT_FALSE(s.feed(client_info_frame(s.client_key, other, plain_info())));
  }
  {
    SessionUnderTest s(*core.server);
    EXPECT_FALSE(s.feed(header(FrameType::kClientInfo, 300 * 1024, 0)));
  }
  EXPECT_EQ(core.server->registry().stats().local_keys, 0u);
  EXPECT_EQ(core.server->stats().handshake_failures, 4u);
}

// A core whose admission check only records who asked (the answer is the test's to give).
struct AdmissionAsked {
  int times = 0;
  proto::NodePublic key;
  std::optional<boost::asio::ip::address> source;
};
CoreHarness core_with_admission(AdmissionAsked& asked) {
  return CoreHarness(std::nullopt, nullptr, [&asked](server::ServerConfig& c) {
    c.admit = [&asked](const proto::NodePublic& key,
                       const std::optional<boost::asio::ip::address>& source,
                       server::ServerConfig::AdmissionDecided) {
      ++asked.times;
      asked.key = key;
      asked.source = source;
    };
  });
}

TEST(Session, FramesSentWhileAwaitingAdmissionAreHeldThenRelayed) {
  AdmissionAsked asked;
  auto core = core_with_admission(asked);
  SessionUnderTest s(*core.server);
  auto bytes = client_info_frame(s.client_key, core.server->public_key(), plain_info());
  proto::append_ping(bytes, {1, 2, 3, 4, 5, 6, 7, 8});
  std::vector<std::uint8_t> packet{'h', 'i'};
  proto::append_send_packet(bytes, s.client_key.public_key(), packet);
  // ClientInfo and what follows arrive in one read and in pieces: both are held whole.
  ASSERT_TRUE(s.feed(proto::Bytes(bytes).first(bytes.size() - 3)));
  ASSERT_TRUE(s.feed(proto::Bytes(bytes).last(3)));
  EXPECT_EQ(asked.times, 1);
  EXPECT_EQ(asked.key, s.client_key.public_key());
  EXPECT_FALSE(asked.source) << "the harness's connection has no address";
  auto before = s.drain();
  ASSERT_EQ(before.size(), 1u) << "nothing but ServerKey before the answer";
  EXPECT_FALSE(s.session->established());
  EXPECT_EQ(core.server->registry().stats().local_keys, 0u);

  s.session->admission_decided(true, "");
  auto frames = s.drain();
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].type, type_of(FrameType::kServerInfo));
  EXPECT_EQ(frames[1].type, type_of(FrameType::kPong));
  EXPECT_EQ(frames[2].type, type_of(FrameType::kRecvPacket));
  EXPECT_TRUE(s.session->established());
  EXPECT_FALSE(s.transport.closed);
}

TEST(Session, ARefusedClientIsClosedBeforeServerInfo) {
  AdmissionAsked asked;
  auto core = core_with_admission(asked);
  SessionUnderTest s(*core.server);
  ASSERT_TRUE(s.feed(client_info_frame(s.client_key, core.server->public_key(), plain_info())));
  s.session->admission_decided(false, "controller said Allow:false");
  EXPECT_TRUE(s.transport.closed);
  EXPECT_EQ(s.session->close_reason(), "not admitted: controller said Allow:false");
  EXPECT_EQ(s.drain().size(), 1u) << "ServerKey only";
  EXPECT_EQ(core.server->registry().stats().local_keys, 0u);
  EXPECT_EQ(core.server->stats().handshake_failures, 1u);
}

TEST(Session, TooMuchDataWhileAwaitingAdmissionCloses) {
  AdmissionAsked asked;
  auto core = core_with_admission(asked);
  SessionUnderTest s(*core.server);
  ASSERT_TRUE(s.feed(client_info_frame(s.client_key, core.server->public_key(), plain_info())));
  std::vector<std::uint8_t> flood(server::ClientSession::kMaxBytesBeforeAdmission, 0);
  EXPECT_TRUE(s.feed(flood));
  EXPECT_FALSE(s.feed(proto::Bytes(flood).first(1)));
}

TEST(Session, MeshPeersAreNotAskedAbout) {
  AdmissionAsked asked;
  proto::KeyBytes mesh_key{};
  mesh_key[0] = 7;
  CoreHarness core(mesh_key, nullptr, [&asked](server::ServerConfig& c) {
    c.admit = [&asked](const proto::NodePublic&, const std::optional<boost::asio::ip::address>&,
                       server::ServerConfig::AdmissionDecided) { ++asked.times; };
  });
  SessionUnderTest s(*core.server);
  auto info = plain_info();
  info.mesh_key = mesh_key;
  handshake(s, *core.server, info);
  EXPECT_TRUE(s.session->established());
  EXPECT_EQ(asked.times, 0);
}

TEST(Session, HandshakeTimeoutClosesAfterTenSeconds) {
  CoreHarness core;
  SessionUnderTest s(*core.server);
  auto start = std::chrono::steady_clock::now();
  s.session->on_tick(start + std::chrono::seconds(9));
  EXPECT_FALSE(s.transport.closed);
  s.session->on_tick(start + std::chrono::seconds(11));
  EXPECT_TRUE(s.transport.closed);
}

TEST(Session, KeepAliveAfterSixtyToSixtyFiveSeconds) {
  CoreHarness core;
  SessionUnderTest s(*core.server);
  handshake(s, *core.server);
  auto start = std::chrono::steady_clock::now();
  s.session->on_tick(start + std::chrono::seconds(59));
  EXPECT_TRUE(s.drain().empty());
  s.session->on_tick(start + std::chrono::seconds(66));
  auto frames = s.drain();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, type_of(FrameType::kKeepAlive));
}

TEST(Session, WriteTimeoutClosesAndCounts) {
  CoreHarness core;
  SessionUnderTest s(*core.server);
  handshake(s, *core.server);
  s.transport.stalled = true;
  s.session->on_tick(std::chrono::steady_clock::now());
  EXPECT_TRUE(s.transport.closed);
  EXPECT_EQ(core.server->stats().sclient_write_timeouts, 1u);
}

TEST(Session, FullQueueDropsTheOldestPacket) {
  CoreHarness core;
  SessionUnderTest receiver(*core.server);
  handshake(receiver, *core.server);
  SessionUnderTest sender(*core.server);
  handshake(sender, *core.server);
  std::vector<std::uint8_t> bytes;
  for (std::uint8_t i = 0; i < 40; ++i) {
    std::vector<std::uint8_t> packet{i};
    proto::append_send_packet(bytes, receiver.client_key.public_key(), packet);
  }
  ASSERT_TRUE(sender.feed(bytes));
  auto frames = receiver.drain();
  ASSERT_EQ(frames.size(), 32u);
  EXPECT_EQ(proto::parse_recv_packet(frames.front().payload).value.packet[0], 8);  // 0..7 dropped
  EXPECT_EQ(proto::parse_recv_packet(frames.back().payload).value.packet[0], 39);
  auto stats = core.server->stats();
  EXPECT_EQ(stats.packets_dropped[static_cast<int>(server::DropReason::kQueueHead)][0], 8u);
  // The drops are the receiver's, by reason, for the admin API.
  auto snap = receiver.session->snapshot();
  EXPECT_EQ(snap.drops, 8u);
  EXPECT_EQ(snap.drops_by_reason[static_cast<int>(server::DropReason::kQueueHead)], 8u);
  EXPECT_EQ(sender.session->snapshot().drops, 0u);
}

// protocol §4.7, with the core's clock in the test's hands: past the burst, the session asks its
// transport to stop reading for exactly as long as the limit needs; mesh peers never are asked.
TEST(Session, AReceiveLimitAsksTheTransportToPauseReading) {
  CoreHarness core(std::nullopt, &ManualClock::now);
  core.server->rate_policy().set_default({1'000'000, 0});
  SessionUnderTest s(*core.server);
  handshake(s, *core.server);
  EXPECT_EQ(s.session->snapshot().receive_rate.bytes_per_second, 1'000'000u);
  const auto nobody = proto::NodePrivate::generate().public_key();
  std::vector<std::uint8_t> packet(968);  // a frame of 1,000 bytes with the key
  std::vector<std::uint8_t> burst;
  for (int i = 0; i < 65; ++i) proto::append_send_packet(burst, nobody, packet);
  ASSERT_TRUE(s.feed(burst));  // 65,000 of the 65,568-byte burst
  EXPECT_EQ(s.session->input_pause(), std::chrono::nanoseconds(0));
  std::vector<std::uint8_t> one;
  proto::append_send_packet(one, nobody, packet);
  ASSERT_TRUE(s.feed(one));  // 432 bytes over: 432 µs at 1 MB/s
  EXPECT_EQ(s.session->input_pause(), std::chrono::microseconds(432));
  EXPECT_EQ(core.server->stats().rate_limit_waits, 1u);
  ManualClock::advance(std::chrono::microseconds(432));
  ASSERT_TRUE(s.feed(one));  // paid, then 1,000 more owed
  EXPECT_EQ(s.session->input_pause(), std::chrono::milliseconds(1));

  // An override for the key replaces the bucket (full again) and the rate.
  core.server->rate_policy().set_override(s.client_key.public_key(),
                                          limits::ReceiveRate{2'000'000, 0});
  s.session->apply_rate_policy();
  EXPECT_TRUE(s.session->snapshot().receive_rate_overridden);
  ASSERT_TRUE(s.feed(burst));
  ASSERT_TRUE(s.feed(one));
  EXPECT_EQ(s.session->input_pause(), std::chrono::microseconds(216));
  core.server->rate_policy().set_override(s.client_key.public_key(), limits::ReceiveRate{});
  s.session->apply_rate_policy();
  ASSERT_TRUE(s.feed(burst));
  ASSERT_TRUE(s.feed(burst));
  EXPECT_EQ(s.session->input_pause(), std::chrono::nanoseconds(0)) << "exempted";

  proto::KeyBytes mesh_key{};
  mesh_key[0] = 7;
  CoreHarness mesh_core(mesh_key, &ManualClock::now);
  mesh_core.server->rate_policy().set_default({1'000, 0});
  SessionUnderTest peer(*mesh_core.server);
  auto info = plain_info();
  info.mesh_key = mesh_key;
  handshake(peer, *mesh_core.server, info);
  ASSERT_TRUE(peer.feed(burst));
  ASSERT_TRUE(peer.feed(burst));
  EXPECT_EQ(peer.session->input_pause(), std::chrono::nanoseconds(0)) << "a mesh peer";
  EXPECT_FALSE(peer.session->snapshot().receive_rate.limited());
}

TEST(Session, UnknownDestinationIsCountedAndDiscoGetsNotHere) {
  CoreHarness core;
  SessionUnderTest s(*core.server);
  handshake(s, *core.server);
  auto nobody = proto::NodePrivate::generate().public_key();
  std::vector<std::uint8_t> disco(proto::kMinDiscoLen, 0);
  std::copy(proto::kDiscoMagic.begin(), proto::kDiscoMagic.end(), disco.begin());
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < 5; ++i) proto::append_send_packet(bytes, nobody, disco);
  ASSERT_TRUE(s.feed(bytes));
  auto frames = s.drain();
  ASSERT_EQ(frames.size(), 3u);  // NotHere is limited to a burst of 3
  auto gone = proto::parse_peer_gone(frames[0].payload);
  EXPECT_EQ(gone.value.key, nobody);
  EXPECT_EQ(gone.value.reason, proto::PeerGoneReason::kNotHere);
  auto stats = core.server->stats();
  EXPECT_EQ(stats.packets_dropped[static_cast<int>(server::DropReason::kUnknownDest)][1], 5u);
  EXPECT_EQ(
      s.session->snapshot().drops_by_reason[static_cast<int>(server::DropReason::kUnknownDest)],
      5u);
}

std::vector<std::uint8_t> disco_to(const proto::NodePublic& dst, int count) {
  std::vector<std::uint8_t> disco(proto::kMinDiscoLen, 0);
  std::copy(proto::kDiscoMagic.begin(), proto::kDiscoMagic.end(), disco.begin());
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < count; ++i) proto::append_send_packet(bytes, dst, disco);
  return bytes;
}

// protocol §4.3: NotHere answers are limited to 1 per second with a burst of 3. The core's clock is
// the test's, so the refill is checked without sleeping.
TEST(Session, NotHereRefillsOnePerSecondUpToThree) {
  CoreHarness core(std::nullopt, &ManualClock::now);
  SessionUnderTest s(*core.server);
  handshake(s, *core.server);
  auto nobody = proto::NodePrivate::generate().public_key();
  auto not_here = [&](int sends) {
    EXPECT_TRUE(s.feed(disco_to(nobody, sends)));
    return s.drain().size();
  };
  EXPECT_EQ(not_here(5), 3u);
  ManualClock::advance(std::chrono::milliseconds(500));
  EXPECT_EQ(not_here(1), 0u) << "half a token";
  ManualClock::advance(std::chrono::milliseconds(500));
  EXPECT_EQ(not_here(2), 1u) << "one token a second";
  ManualClock::advance(std::chrono::seconds(10));
  EXPECT_EQ(not_here(5), 3u) << "the bucket holds 3";
}

// protocol §4.6: a NotePreferred within 5 s of the handshake is where the client starts, not a
// move.
TEST(Session, HomeMovesCountOnlyAfterFiveSeconds) {
  CoreHarness core(std::nullopt, &ManualClock::now);
  SessionUnderTest s(*core.server);
  handshake(s, *core.server);
  auto preferred = [&](bool p) {
    std::vector<std::uint8_t> bytes;
    proto::append_note_preferred(bytes, p);
    EXPECT_TRUE(s.feed(bytes));
  };
  preferred(true);
  EXPECT_EQ(core.server->stats().home_moves_in, 0u);
  EXPECT_EQ(core.server->stats().current_home_connections, 1);
  ManualClock::advance(std::chrono::seconds(6));
  preferred(false);
  EXPECT_EQ(core.server->stats().home_moves_out, 1u);
  preferred(true);
  EXPECT_EQ(core.server->stats().home_moves_in, 1u);
}

// A leaving session waits kLeaveLinger for the client to close its side, then closes it.
TEST(Session, ALeavingClientThatNeverClosesIsClosedAfterTheLinger) {
  CoreHarness core(std::nullopt, &ManualClock::now);
  SessionUnderTest s(*core.server);
  handshake(s, *core.server);
  s.session->leave("node draining", std::nullopt);
  EXPECT_TRUE(s.transport.ending_output);
  EXPECT_FALSE(s.transport.closed);
  const auto start = ManualClock::now();
  s.session->on_tick(start + server::ClientSession::kLeaveLinger - std::chrono::milliseconds(1));
  EXPECT_FALSE(s.transport.closed);
  s.session->on_tick(start + server::ClientSession::kLeaveLinger);
  EXPECT_TRUE(s.transport.closed);
  EXPECT_EQ(core.server->stats().current_connections, 0) << "counted out once, at leave()";
  s.session->shutdown();
  EXPECT_EQ(core.server->stats().current_connections, 0) << "and not again at shutdown()";
}

// A frame header that declares a large frame reserves nothing beyond the bytes that arrived: a
// stranger who sends 5 bytes cannot make the node hold the declared length.
TEST(Session, ADeclaredLengthReservesNothingUntilTheBytesArrive) {
  CoreHarness core;
  SessionUnderTest s(*core.server);
  // Before the handshake: a ClientInfo header declaring the 256 KiB maximum, then 1 byte.
  std::vector<std::uint8_t> header(proto::kFrameHeaderLen);
  proto::write_frame_header(header.data(), FrameType::kClientInfo,
                            static_cast<std::uint32_t>(proto::kMaxClientInfoLen));
  header.push_back(0);
  ASSERT_TRUE(s.feed(header));
  EXPECT_LT(s.session->input_buffer_capacity(), 1024u);
  // The same split across reads: header first, then a byte.
  SessionUnderTest t(*core.server);
  ASSERT_TRUE(t.feed(proto::Bytes(header).first(3)));
  ASSERT_TRUE(t.feed(proto::Bytes(header).subspan(3)));
  EXPECT_LT(t.session->input_buffer_capacity(), 1024u);
  // And a large frame that does arrive in pieces is still reassembled whole.
  SessionUnderTest r(*core.server);
  handshake(r, *core.server);
  SessionUnderTest sender(*core.server);
  handshake(sender, *core.server);
  std::vector<std::uint8_t> big;
  proto::append_send_packet(big, r.client_key.public_key(), std::vector<std::uint8_t>(60000, 7));
  for (std::size_t at = 0; at < big.size(); at += 1000) {
    ASSERT_TRUE(
        sender.feed(proto::Bytes(big).subspan(at, std::min<std::size_t>(1000, big.size() - at))));
  }
  core.server->worker(0).run_pending();
  auto frames = r.drain();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, type_of(FrameType::kRecvPacket));
  EXPECT_EQ(frames[0].payload.size(), proto::kKeyLen + 60000u);
}

TEST(Session, MeshPeerWatchesAndGetsPresenceOfEveryClient) {
  proto::KeyBytes mesh_key{};
  mesh_key.fill(0x42);
  CoreHarness core(mesh_key);
  SessionUnderTest regular(*core.server);
  handshake(regular, *core.server);
  SessionUnderTest watcher(*core.server);
  auto info = plain_info();
  info.mesh_key = mesh_key;
  handshake(watcher, *core.server, info);
  EXPECT_TRUE(watcher.session->can_mesh());
  std::vector<std::uint8_t> watch;
  proto::append_watch_conns(watch);
  ASSERT_TRUE(watcher.feed(watch));
  // The worker is not running: deliver its inbox by hand.
  auto& worker = core.server->worker(0);
  worker.run_pending();
  auto frames = watcher.drain();
  int present = 0;
  for (auto& f : frames) {
    if (f.type != type_of(FrameType::kPeerPresent)) continue;
    auto p = proto::parse_peer_present(f.payload);
    if (p.value.key == regular.client_key.public_key()) {
      ++present;
      EXPECT_EQ(p.value.flags, proto::kPeerPresentIsRegular);
      EXPECT_EQ(f.payload.size(), 51u);
    }
  }
  EXPECT_EQ(present, 1);
}

}  // namespace
}  // namespace derp::testing
