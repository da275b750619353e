// Hostile input (protocol §2.2, §2.4, §2.6, §1.4): protocol violations close the offending
// connection without any reply, unknown frames are skipped, and no other client is ever affected.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "tests/support/async_runner.h"
#include "tests/support/bystanders.h"
#include "tests/support/client_checks.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_text.h"
#include "tests/support/raw_socket.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using client::DerpClient;

class HostileInput : public ::testing::Test {
 protected:
  HostileInput()
      : derpd_({"-a", "127.0.0.1:0", "--stun=false", "-c", dir_.path() + "/key"}),
        bystanders_(runner_, derpd_.derp_url()) {}

  void expect_bystanders_unaffected() { bystanders_.expect_unaffected(); }

  // A fresh, properly connected client writes `bytes`; the server must close it without sending
  // it anything.
  void expect_closed_after(const std::vector<std::uint8_t>& bytes) {
    CloseResult result;
    runner_.run([&]() -> asio::awaitable<void> {
      auto h = co_await connect_client(derpd_.derp_url());
      co_await write_raw_tolerant(*h, bytes);
      result = co_await wait_server_close(*h);
    }());
    EXPECT_TRUE(result.closed) << "the server kept the connection open";
    EXPECT_TRUE(result.messages.empty()) << "got " << result.messages.front();
    expect_bystanders_unaffected();
  }

  static std::vector<std::uint8_t> header(std::uint8_t type, std::uint32_t len) {
    std::vector<std::uint8_t> out;
    out.reserve(5 + len);
    out.push_back(type);
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<std::uint8_t>(len >> shift));
    return out;
  }
  static std::vector<std::uint8_t> frame(std::uint8_t type, std::size_t len) {
    auto out = header(type, static_cast<std::uint32_t>(len));
    out.resize(out.size() + len, 0x5a);
    return out;
  }

  AsyncRunner runner_;
  TempDir dir_;
  DerpdProcess derpd_;
  Bystanders bystanders_;
};

TEST_F(HostileInput, OversizedSendPacketCloses) {
  expect_closed_after(frame(0x04, 32 + 65537));
}

TEST_F(HostileInput, SendPacketShorterThanAKeyCloses) {
  expect_closed_after(frame(0x04, 31));
}

TEST_F(HostileInput, NotePreferredOfTwoBytesCloses) {
  expect_closed_after(frame(0x07, 2));
}

TEST_F(HostileInput, PingOfSevenBytesCloses) {
  expect_closed_after(frame(0x12, 7));
}

TEST_F(HostileInput, PingOf1001BytesCloses) {
  expect_closed_after(frame(0x12, 1001));
}

TEST_F(HostileInput, ForwardPacketWithoutMeshKeyCloses) {
  expect_closed_after(frame(0x0a, 64 + 10));
}

TEST_F(HostileInput, WatchConnsWithoutMeshKeyCloses) {
  expect_closed_after(frame(0x10, 0));
}

TEST_F(HostileInput, ClosePeerWithoutMeshKeyCloses) {
  // Aimed at P: it must survive (checked by expect_closed_after).
  std::vector<std::uint8_t> bytes;
  protocol::append_close_peer(bytes, bystanders_.p().public_key());
  expect_closed_after(bytes);
}

TEST_F(HostileInput, WatchConnsWithAPayloadCloses) {
  expect_closed_after(frame(0x10, 1));
}

// The limits themselves are accepted: the checks above are not simply "close on anything".
TEST_F(HostileInput, BoundaryLengthsAreAccepted) {
  runner_.run([&]() -> asio::awaitable<void> {
    auto h = co_await connect_client(derpd_.derp_url());
    // Ping of 1000 bytes: Pong with the first 8.
    auto ping = header(0x12, 1000);
    for (int i = 0; i < 1000; ++i) ping.push_back(static_cast<std::uint8_t>(i + 1));
    co_await h->write_raw(ping);
    auto m = co_await next_message(*h);
    auto* pong = std::get_if<client::Pong>(&m);
    EXPECT_TRUE(pong) << describe(m);
    if (pong) {
      const protocol::PingData first8{1, 2, 3, 4, 5, 6, 7, 8};
      EXPECT_EQ(pong->data, first8);
    }
    // SendPacket of exactly 32 bytes (an empty packet) and of 32 + 65536.
    const std::vector<std::uint8_t> empty;
    const auto q_key = bystanders_.q().public_key();
    co_await h->send_packet(q_key, empty);
    auto got = co_await next_packet(bystanders_.q());
    EXPECT_TRUE(got.data.empty());
    const auto biggest = numbered_packet(5, 65536);
    co_await h->send_packet(q_key, biggest);
    got = co_await next_packet(bystanders_.q());
    EXPECT_EQ(got.data, biggest);
    // NotePreferred of 1 byte, then it still answers.
    co_await h->note_preferred(true);
    co_await expect_marker(bystanders_.q(), *h, 77);
  }());
  expect_bystanders_unaffected();
}

TEST_F(HostileInput, UnknownFrameOfOneMebibyteIsSkipped) {
  runner_.run([&]() -> asio::awaitable<void> {
    auto h = co_await connect_client(derpd_.derp_url());
    auto unknown = frame(0x7e, 1 << 20);
    // Its payload even looks like frames: it must be skipped, not parsed.
    for (std::size_t i = 5; i + 13 <= unknown.size(); i += 13) {
      const std::uint8_t ping[13] = {0x12, 0, 0, 0, 8, 9, 9, 9, 9, 9, 9, 9, 9};
      std::copy(std::begin(ping), std::end(ping), unknown.begin() + static_cast<std::ptrdiff_t>(i));
    }
    co_await h->write_raw(unknown);
    const protocol::PingData data{1, 3, 5, 7, 9, 11, 13, 15};
    co_await h->ping(data);
    auto m = co_await next_message(*h);
    auto* pong = std::get_if<client::Pong>(&m);
    EXPECT_TRUE(pong) << describe(m);
    if (pong) {
      EXPECT_EQ(pong->data, data);
    }
    co_await expect_marker(bystanders_.p(), *h, 1);
    co_await expect_marker(*h, bystanders_.p(), 2);
  }());
  expect_bystanders_unaffected();
}

// Before the handshake completes, on a raw socket: the server must close without any frame after
// ServerKey (protocol §2.4 "reject").
TEST_F(HostileInput, AllZeroClientKeyIsRejected) {
  RawSocket s(derpd_.port());
  auto server = raw_upgrade(s);
  auto sender = protocol::NodePrivate::generate();
  const std::string json = R"({"version":2,"CanAckPings":true})";
  auto sealed = protocol::seal_box(
      {reinterpret_cast<const std::uint8_t*>(json.data()), json.size()}, sender, server);
  std::vector<std::uint8_t> info;
  protocol::append_client_info(info, protocol::NodePublic{}, sealed);
  ASSERT_TRUE(s.send_all(info));
  std::size_t extra = 0;
  EXPECT_EQ(s.wait_closed(std::chrono::seconds(5), &extra), RawSocket::Status::kClosed);
  EXPECT_EQ(extra, 0u) << "a frame followed ServerKey";
  EXPECT_EQ(varz(derpd_.port(), "derp_current_connections"), 2);
  expect_bystanders_unaffected();
}

TEST_F(HostileInput, GarbageInsteadOfClientInfoIsRejected) {
  RawSocket s(derpd_.port());
  raw_upgrade(s);
  ASSERT_TRUE(s.send_all(std::string_view("hello, this is not a DERP frame at all\r\n\r\n")));
  std::size_t extra = 0;
  EXPECT_EQ(s.wait_closed(std::chrono::seconds(5), &extra), RawSocket::Status::kClosed);
  EXPECT_EQ(extra, 0u);
  expect_bystanders_unaffected();
}

TEST_F(HostileInput, ClientInfoThatDoesNotOpenIsRejected) {
  RawSocket s(derpd_.port());
  raw_upgrade(s);
  // Sealed to some other server.
  auto info = client_info_frame(protocol::NodePrivate::generate(),
                                protocol::NodePrivate::generate().public_key(),
                                R"({"version":2,"CanAckPings":true})");
  ASSERT_TRUE(s.send_all(info));
  std::size_t extra = 0;
  EXPECT_EQ(s.wait_closed(std::chrono::seconds(5), &extra), RawSocket::Status::kClosed);
  EXPECT_EQ(extra, 0u);
  expect_bystanders_unaffected();
}

TEST_F(HostileInput, ClientInfoWithAnEmptyMeshKeyIsRejected) {
  RawSocket s(derpd_.port());
  auto server = raw_upgrade(s);
  auto info = client_info_frame(protocol::NodePrivate::generate(), server,
                                R"({"meshKey":"","version":2,"CanAckPings":true})");
  ASSERT_TRUE(s.send_all(info));
  std::size_t extra = 0;
  EXPECT_EQ(s.wait_closed(std::chrono::seconds(5), &extra), RawSocket::Status::kClosed);
  EXPECT_EQ(extra, 0u);
  expect_bystanders_unaffected();
}

// A WebSocket DERP client that completes the handshake, then sends a text message.
struct WsOutcome {
  bool handshake_ok = false;
  bool closed = false;
  bool close_frame = false;  // the server sent a WebSocket close frame
  int close_code = 0;
  std::string error;
};

WsOutcome text_message_after_handshake(std::uint16_t port) {
  WsOutcome out;
  asio::io_context io;
  beast::websocket::stream<asio::ip::tcp::socket> ws(io);
  ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  ws.set_option(beast::websocket::stream_base::decorator([](beast::websocket::request_type& r) {
    r.set(beast::http::field::sec_websocket_protocol, "derp");
  }));
  ws.handshake("127.0.0.1", "/derp");
  beast::flat_buffer buf;
  ws.read(buf);  // ServerKey (45 bytes, possibly more)
  auto data = buf.cdata();
  std::vector<std::uint8_t> bytes(static_cast<const std::uint8_t*>(data.data()),
                                  static_cast<const std::uint8_t*>(data.data()) + data.size());
  buf.consume(buf.size());
  if (bytes.size() < 45 || bytes[0] != 0x01) return out;
  auto server = protocol::parse_server_key(protocol::Bytes(bytes).subspan(5, 40));
  auto key = protocol::NodePrivate::generate();
  auto info = client_info_frame(key, server.value, R"({"version":2,"CanAckPings":true})");
  ws.binary(true);
  ws.write(asio::buffer(info));
  ws.read(buf);  // ServerInfo
  data = buf.cdata();
  out.handshake_ok = data.size() >= 5 && static_cast<const std::uint8_t*>(data.data())[0] == 0x03;
  buf.consume(buf.size());

  ws.text(true);
  ws.write(asio::buffer(std::string("not binary")));
  // Set a read deadline through the socket so a server that ignores the message fails quickly.
  timeval tv{5, 0};
  ::setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  for (;;) {
    boost::system::error_code ec;
    ws.read(buf, ec);
    buf.consume(buf.size());
    if (!ec) continue;  // KeepAlive or other frames
    out.error = ec.message();
    out.closed = ec != asio::error::would_block && ec != asio::error::try_again &&
                 ec != asio::error::timed_out;
    if (ec == beast::websocket::error::closed) {
      out.close_frame = true;
      out.close_code = ws.reason().code;
    }
    break;
  }
  return out;
}

TEST_F(HostileInput, TextWebSocketMessageCloses) {
  auto out = text_message_after_handshake(derpd_.port());
  EXPECT_TRUE(out.handshake_ok);
  EXPECT_TRUE(out.closed) << "still open after a text message: " << out.error;
  expect_bystanders_unaffected();
}

// Spec §1.4: "A text message is a protocol error; close with 1003" (the reference closes with
// StatusUnsupportedData).

TEST_F(HostileInput, TextWebSocketMessageClosesWith1003) {
  auto out = text_message_after_handshake(derpd_.port());
  EXPECT_TRUE(out.handshake_ok);
  EXPECT_TRUE(out.close_frame) << "no WebSocket close frame; the read ended with: " << out.error;
  EXPECT_EQ(out.close_code, 1003);
  expect_bystanders_unaffected();
}

}  // namespace
}  // namespace derp::testing
