// The bytes of real Tailscale v1.36.2 clients (tests/testdata/real-client-v1.36.2), replayed
// over raw sockets against derpd started with the capture's server.key and mesh.key. The server
// must accept them and answer with frames of the same types as the reference did.
#include <gtest/gtest.h>

#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/support/async_runner.h"
#include "tests/support/capture.h"
#include "tests/support/client_checks.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_text.h"
#include "tests/support/raw_socket.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using client::DerpClient;
using protocol::FrameType;

constexpr std::uint8_t type_of(FrameType t) {
  return static_cast<std::uint8_t>(t);
}

// A captured session: the HTTP request, then the client's DERP stream cut into whole frames.
struct ClientSession {
  std::string request;
  std::vector<std::vector<std::uint8_t>> frames;  // each with its 5-byte header
};

ClientSession load_session(const std::string& file) {
  auto events = load_capture(file);
  ClientSession s;
  std::vector<std::uint8_t> stream;
  bool first = true;
  for (const auto& e : events) {
    if (!e.client_to_server) continue;
    if (first) {
      s.request.assign(e.bytes.begin(), e.bytes.end());
      first = false;
    } else {
      stream.insert(stream.end(), e.bytes.begin(), e.bytes.end());
    }
  }
  if (!s.request.ends_with("\r\n\r\n")) throw std::runtime_error(file + ": request not whole");
  std::size_t off = 0;
  while (off < stream.size()) {
    auto h = protocol::parse_frame_header(protocol::Bytes(stream).subspan(off));
    if (!h || off + protocol::kFrameHeaderLen + h->length > stream.size()) {
      throw std::runtime_error(file + ": truncated frame in the capture");
    }
    auto end = off + protocol::kFrameHeaderLen + h->length;
    s.frames.emplace_back(stream.begin() + static_cast<std::ptrdiff_t>(off),
                          stream.begin() + static_cast<std::ptrdiff_t>(end));
    off = end;
  }
  return s;
}

class CaptureReplay : public ::testing::Test {
 protected:
  static std::string prepare_key(const TempDir& dir) {
    auto key_copy = dir.path() + "/server.key";
    std::filesystem::copy_file(testdata_dir() / "server.key", key_copy);
    std::filesystem::permissions(
        key_copy, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return key_copy;
  }
  CaptureReplay()
      : derpd_({"-a", "127.0.0.1:0", "--stun=false", "--workers", "1", "-c", prepare_key(dir_),
                "--mesh-psk-file", (testdata_dir() / "mesh.key").string()}) {
    auto doc = nlohmann::json::parse(read_text_file(testdata_dir() / "server.key"));
    server_pub_ =
        protocol::parse_node_private(doc.at("PrivateKey").get<std::string>())->public_key();
  }

  // Sends the request; checks the exact 101 and the ServerKey frame carrying server.key's key.
  void expect_upgrade(RawSocket& s, const ClientSession& session) {
    ASSERT_TRUE(s.send_all(session.request));
    auto head = s.read_http_head();
    ASSERT_TRUE(head);
    EXPECT_EQ(*head,
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
              "Derp-Version: 2\r\nDerp-Public-Key: " +
                  server_pub_.to_hex() + "\r\n\r\n");
    auto f = s.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->type, type_of(FrameType::kServerKey));
    ASSERT_EQ(f->payload.size(), 40u);
    EXPECT_TRUE(std::equal(protocol::kMagic.begin(), protocol::kMagic.end(), f->payload.begin()));
    EXPECT_EQ(protocol::NodePublic::from_span(protocol::Bytes(f->payload).subspan(8)), server_pub_);
  }
  // Sends the captured ClientInfo (frame 0) and expects a ServerInfo of 24+16+13 bytes.
  void expect_client_info_accepted(RawSocket& s, const ClientSession& session) {
    ASSERT_FALSE(session.frames.empty());
    ASSERT_EQ(session.frames[0][0], type_of(FrameType::kClientInfo));
    ASSERT_TRUE(s.send_all(session.frames[0]));
    auto f = s.read_frame();
    ASSERT_TRUE(f) << "no ServerInfo for the captured ClientInfo";
    EXPECT_EQ(f->type, type_of(FrameType::kServerInfo));
    EXPECT_EQ(f->payload.size(), 24u + 16u + 13u);
  }
  // The next frame that is neither a KeepAlive nor a PeerGone (disco packets to absent peers may
  // earn NotHere replies).
  std::optional<RawSocket::Frame> next_reply(RawSocket& s) {
    for (;;) {
      auto f = s.read_non_keepalive();
      if (!f || f->type != type_of(FrameType::kPeerGone)) return f;
    }
  }
  double unknown_dest_drops() {
    auto m = fetch_varz(derpd_.port());
    return varz_value(m, packets_dropped("unknown_dest", "disco")) +
           varz_value(m, packets_dropped("unknown_dest", "other"));
  }

  AsyncRunner runner_;
  TempDir dir_;
  DerpdProcess derpd_;
  protocol::NodePublic server_pub_;
};

TEST_F(CaptureReplay, Conn006PlainClientHandshake) {
  auto session = load_session("http/conn-006.json");
  RawSocket s(derpd_.port());
  expect_upgrade(s, session);
  expect_client_info_accepted(s, session);
  EXPECT_EQ(varz(derpd_.port(), "derp_current_connections"), 1);
}

TEST_F(CaptureReplay, Conn004WatchConnsWithoutMeshKeyIsClosed) {
  auto session = load_session("http/conn-004.json");
  ASSERT_EQ(session.frames.size(), 2u);
  ASSERT_EQ(session.frames[1][0], type_of(FrameType::kWatchConns));
  RawSocket s(derpd_.port());
  expect_upgrade(s, session);
  expect_client_info_accepted(s, session);
  ASSERT_TRUE(s.send_all(session.frames[1]));
  std::size_t extra = 0;
  EXPECT_EQ(s.wait_closed(std::chrono::seconds(5), &extra), RawSocket::Status::kClosed);
  EXPECT_EQ(extra, 0u);
  EXPECT_EQ(varz(derpd_.port(), "derp_watchers"), 0);
}

// conn-008 (mesh) closes conn-009's client with ClosePeer, then pings.
TEST_F(CaptureReplay, Conn008MeshClosePeerAndPing) {
  auto victim_session = load_session("http/conn-009.json");
  RawSocket victim(derpd_.port());
  expect_upgrade(victim, victim_session);
  expect_client_info_accepted(victim, victim_session);

  auto session = load_session("http/conn-008.json");
  ASSERT_EQ(session.frames.size(), 3u);
  ASSERT_EQ(session.frames[1][0], type_of(FrameType::kClosePeer));
  ASSERT_EQ(session.frames[2][0], type_of(FrameType::kPing));
  // The ClosePeer target is conn-009's key.
  EXPECT_TRUE(std::equal(session.frames[1].begin() + 5, session.frames[1].end(),
                         victim_session.frames[0].begin() + 5));
  RawSocket s(derpd_.port());
  expect_upgrade(s, session);
  expect_client_info_accepted(s, session);
  ASSERT_TRUE(s.send_all(session.frames[1]));
  ASSERT_TRUE(s.send_all(session.frames[2]));
  auto pong = s.read_non_keepalive();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->type, type_of(FrameType::kPong));
  EXPECT_EQ(pong->payload,
            std::vector<std::uint8_t>(session.frames[2].begin() + 5, session.frames[2].end()));
  // The mesh peer's connection stays; the victim's is closed.
  EXPECT_EQ(victim.wait_closed(std::chrono::seconds(5)), RawSocket::Status::kClosed);
  EXPECT_TRUE(
      wait_varz(derpd_.port(), "derp_current_connections", [](double v) { return v == 1; }));
}

// conn-001 alone: its 8 Pings get 8 Pongs with the same bytes; its SendPackets to absent peers are
// dropped as unknown_dest.
TEST_F(CaptureReplay, Conn001PingsAndPacketsToAbsentPeers) {
  auto session = load_session("http/conn-001.json");
  RawSocket s(derpd_.port());
  expect_upgrade(s, session);
  expect_client_info_accepted(s, session);
  const double drops_before = unknown_dest_drops();
  int pings = 0, sends = 0, pongs = 0;
  for (std::size_t i = 1; i < session.frames.size(); ++i) {
    const auto& frame = session.frames[i];
    ASSERT_TRUE(s.send_all(frame));
    if (frame[0] == type_of(FrameType::kSendPacket)) ++sends;
    if (frame[0] != type_of(FrameType::kPing)) continue;
    ++pings;
    // Wait for the Pong where the client did: one pending pong per connection (§2.3.1).
    auto reply = next_reply(s);
    ASSERT_TRUE(reply) << "no Pong for ping " << pings;
    EXPECT_EQ(reply->type, type_of(FrameType::kPong));
    EXPECT_EQ(reply->payload, std::vector<std::uint8_t>(frame.begin() + 5, frame.end()));
    ++pongs;
  }
  EXPECT_EQ(pings, 8);
  EXPECT_EQ(pongs, 8);
  EXPECT_EQ(sends, 21);
  // The last frame was a Ping answered after every SendPacket was processed.
  EXPECT_EQ(unknown_dest_drops() - drops_before, sends);
}

// conn-005 (mesh watcher): PeerPresent for the clients already connected.
TEST_F(CaptureReplay, Conn005MeshWatcherSeesPresentClients) {
  std::unique_ptr<DerpClient> regular;
  runner_.run(
      [&]() -> asio::awaitable<void> { regular = co_await connect_client(derpd_.derp_url()); }());
  const auto regular_pub = regular->public_key();

  auto session = load_session("http/conn-005.json");
  ASSERT_EQ(session.frames.size(), 2u);
  ASSERT_EQ(session.frames[1][0], type_of(FrameType::kWatchConns));
  RawSocket s(derpd_.port());
  expect_upgrade(s, session);
  expect_client_info_accepted(s, session);
  ASSERT_TRUE(s.send_all(session.frames[1]));

  bool found = false;
  for (int i = 0; i < 4 && !found; ++i) {
    auto f = s.read_non_keepalive();
    ASSERT_TRUE(f) << "no PeerPresent for the connected client";
    ASSERT_EQ(f->type, type_of(FrameType::kPeerPresent));
    ASSERT_EQ(f->payload.size(), 51u);
    if (protocol::NodePublic::from_span(protocol::Bytes(f->payload).first(32)) != regular_pub) {
      continue;
    }
    found = true;
    const std::vector<std::uint8_t> mapped_loopback{0, 0, 0,    0,    0,   0, 0, 0,
                                                    0, 0, 0xff, 0xff, 127, 0, 0, 1};
    EXPECT_EQ(std::vector<std::uint8_t>(f->payload.begin() + 32, f->payload.begin() + 48),
              mapped_loopback);
    EXPECT_NE(f->payload[48] << 8 | f->payload[49], 0);
    EXPECT_EQ(f->payload[50], 0x01) << "flags: IsRegular";
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(varz(derpd_.port(), "derp_watchers"), 1);

  // And when that client leaves: PeerGone(key, Disconnected) to the watcher.
  runner_.run([&]() -> asio::awaitable<void> {
    regular->close();
    regular.reset();
    co_return;
  }());
  for (;;) {
    auto f = s.read_non_keepalive();
    ASSERT_TRUE(f) << "the watcher was not told that the client left";
    if (f->type == type_of(FrameType::kPeerPresent)) continue;  // repeats are allowed (§4.2)
    EXPECT_EQ(f->type, type_of(FrameType::kPeerGone));
    std::vector<std::uint8_t> expected(regular_pub.bytes.begin(), regular_pub.bytes.end());
    expected.push_back(0x00);
    EXPECT_EQ(f->payload, expected);
    break;
  }
}

// A server → client WebSocket frame (unmasked); returns the payload of the next binary message.
std::optional<std::vector<std::uint8_t>> read_ws_binary(RawSocket& s) {
  if (s.fill(2, std::chrono::seconds(5)) != RawSocket::Status::kOk) return std::nullopt;
  auto h = s.take(2);
  if (h[0] != 0x82 || (h[1] & 0x80)) {
    ADD_FAILURE() << "expected an unmasked final binary frame, got " << int(h[0]) << " "
                  << int(h[1]);
    return std::nullopt;
  }
  std::size_t len = h[1] & 0x7f;
  if (len == 126) {
    if (s.fill(2, std::chrono::seconds(5)) != RawSocket::Status::kOk) return std::nullopt;
    auto ext = s.take(2);
    len = std::size_t(ext[0]) << 8 | ext[1];
  } else if (len == 127) {
    ADD_FAILURE() << "unexpected 64-bit WebSocket length";
    return std::nullopt;
  }
  if (s.fill(len, std::chrono::seconds(5)) != RawSocket::Status::kOk) return std::nullopt;
  return s.take(len);
}

// websocket/conn-001: permessage-deflate offered and refused; the DERP stream in binary messages.
TEST_F(CaptureReplay, WebSocketConn001) {
  auto events = load_capture("websocket/conn-001.json");
  std::vector<std::vector<std::uint8_t>> c2s;
  for (const auto& e : events) {
    if (e.client_to_server) c2s.push_back(e.bytes);
  }
  ASSERT_GE(c2s.size(), 7u);
  RawSocket s(derpd_.port());
  ASSERT_TRUE(s.send_all(c2s[0]));
  auto head = s.read_http_head();
  ASSERT_TRUE(head);
  auto r = parse_http_head(*head);
  EXPECT_EQ(r.status, 101);
  EXPECT_EQ(lower(r.header("upgrade")), "websocket");
  EXPECT_EQ(r.header("sec-websocket-protocol"), "derp");
  EXPECT_EQ(r.header("sec-websocket-accept"), "BfOdykhV195zXsMN0/lc1AhHYKQ=");
  EXPECT_FALSE(r.has("sec-websocket-extensions")) << "compression must be refused";

  // ServerKey in a binary message. Message boundaries carry no meaning, so read the DERP stream.
  std::vector<std::uint8_t> stream;
  auto next_derp_frame = [&]() -> std::optional<RawSocket::Frame> {
    for (;;) {
      if (stream.size() >= 5) {
        auto h = *protocol::parse_frame_header(stream);
        if (stream.size() >= 5 + h.length) {
          RawSocket::Frame f{h.type, {stream.begin() + 5, stream.begin() + 5 + h.length}};
          stream.erase(stream.begin(), stream.begin() + 5 + h.length);
          return f;
        }
      }
      auto m = read_ws_binary(s);
      if (!m) return std::nullopt;
      stream.insert(stream.end(), m->begin(), m->end());
    }
  };
  auto key = next_derp_frame();
  ASSERT_TRUE(key);
  EXPECT_EQ(key->type, type_of(FrameType::kServerKey));
  ASSERT_EQ(key->payload.size(), 40u);
  EXPECT_EQ(protocol::NodePublic::from_span(protocol::Bytes(key->payload).subspan(8)), server_pub_);

  // The masked ClientInfo message → ServerInfo.
  ASSERT_TRUE(s.send_all(c2s[1]));
  auto info = next_derp_frame();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->type, type_of(FrameType::kServerInfo));
  EXPECT_EQ(info->payload.size(), 24u + 16u + 13u);

  // Five Pings, one message each → five Pongs. The ping bytes are masked in the capture: the
  // server's s2c events hold the expected Pongs.
  std::vector<std::vector<std::uint8_t>> expected_pongs;
  for (const auto& e : events) {
    if (!e.client_to_server && e.bytes.size() == 15 && e.bytes[2] == 0x13) {
      expected_pongs.emplace_back(e.bytes.begin() + 7, e.bytes.end());
    }
  }
  ASSERT_EQ(expected_pongs.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(s.send_all(c2s[2 + i]));
    auto pong = next_derp_frame();
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->type, type_of(FrameType::kPong));
    EXPECT_EQ(pong->payload, expected_pongs[i]) << "pong " << i;
  }
  EXPECT_GE(varz(derpd_.port(), "derp_websocket_accepts"), 1);
}

}  // namespace
}  // namespace derp::testing
