// Coroutine checks over DerpClient for integration tests: "did the server close this connection",
// "do these two clients still relay". Written for gcc 12: no temporaries as arguments of a
// co_awaited call and no co_return inside a try block.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/derp_test_client.h"

namespace derp::testing {

struct CloseResult {
  bool closed = false;                // the server ended the connection before the time limit
  std::vector<std::string> messages;  // what arrived before, other than KeepAlives
};

inline std::string describe(const client::ReceivedMessage& m) {
  if (std::holds_alternative<client::RecvPacket>(m)) return "RecvPacket";
  if (std::holds_alternative<client::PeerGone>(m)) return "PeerGone";
  if (std::holds_alternative<client::PeerPresent>(m)) return "PeerPresent";
  if (std::holds_alternative<client::Ping>(m)) return "Ping";
  if (std::holds_alternative<client::Pong>(m)) return "Pong";
  if (std::holds_alternative<client::Health>(m)) return "Health";
  if (std::holds_alternative<client::Restarting>(m)) return "Restarting";
  if (auto* o = std::get_if<client::OtherFrame>(&m)) return "frame " + std::to_string(o->type);
  return "KeepAlive";
}

// Closes `c` if `limit` passes before this is destroyed: bounds a wait on receive(), which has no
// timeout of its own. expired() says whether it fired.
class CloseAfter {
 public:
  CloseAfter(const boost::asio::any_io_executor& ex, client::DerpClient& c,
             std::chrono::milliseconds limit)
      : timer_(ex) {
    timer_.expires_after(limit);
    timer_.async_wait([&c, fired = fired_](boost::system::error_code ec) {
      if (ec) return;
      *fired = true;
      c.close();
    });
  }
  ~CloseAfter() { timer_.cancel(); }
  CloseAfter(const CloseAfter&) = delete;
  CloseAfter& operator=(const CloseAfter&) = delete;
  bool expired() const { return *fired_; }

 private:
  boost::asio::steady_timer timer_;
  std::shared_ptr<bool> fired_ = std::make_shared<bool>(false);
};

// Receives until the connection fails. If nothing fails within `limit`, closes the client itself
// and reports closed = false.
inline boost::asio::awaitable<CloseResult> wait_server_close(
    client::DerpClient& c, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto ex = co_await boost::asio::this_coro::executor;
  CloseAfter deadline(ex, c, limit);
  CloseResult result;
  bool failed = false;
  while (!failed) {
    try {
      auto m = co_await c.receive();
      if (!std::holds_alternative<client::KeepAlive>(m)) result.messages.push_back(describe(m));
    } catch (const std::exception&) {
      failed = true;
    }
  }
  result.closed = !deadline.expired();
  co_return result;
}

// The next message other than a KeepAlive, or nullopt if none arrives within `limit` (the client
// is then closed: it cannot be used afterwards).
inline boost::asio::awaitable<std::optional<client::ReceivedMessage>> receive_within(
    client::DerpClient& c, std::chrono::milliseconds limit) {
  auto ex = co_await boost::asio::this_coro::executor;
  CloseAfter deadline(ex, c, limit);
  std::optional<client::ReceivedMessage> out;
  try {
    auto m = co_await next_message(c);
    out = std::move(m);
  } catch (const std::exception&) {
    out.reset();
  }
  co_return out;
}

// `from` sends a numbered packet to `to`, which must receive exactly it next.
inline boost::asio::awaitable<void> expect_relay(client::DerpClient& from, client::DerpClient& to,
                                                 std::uint32_t seq, std::size_t size = 200) {
  const auto packet = numbered_packet(seq, size);
  const auto dst = to.public_key();
  co_await from.send_packet(dst, packet);
  auto got = co_await next_packet(to);
  if (got.src != from.public_key() || got.data != packet) {
    throw std::runtime_error("relayed packet " + std::to_string(seq) + " arrived altered");
  }
}

// Like expect_relay, but the packet must be the very next message `to` gets (not a PeerGone or
// anything else): a marker that shows nothing else was queued for `to` before it.
inline boost::asio::awaitable<void> expect_marker(client::DerpClient& from, client::DerpClient& to,
                                                  std::uint32_t seq, std::size_t size = 40) {
  const auto packet = numbered_packet(seq, size);
  const auto dst = to.public_key();
  co_await from.send_packet(dst, packet);
  auto m = co_await next_message(to);
  auto* p = std::get_if<client::RecvPacket>(&m);
  if (!p)
    throw std::runtime_error("expected marker packet " + std::to_string(seq) + ", got " +
                             describe(m));
  if (p->src != from.public_key() || p->data != packet) {
    throw std::runtime_error("marker packet " + std::to_string(seq) + " arrived altered");
  }
}

// Writes raw bytes, ignoring a write error: the server may close while the bytes are in flight.
inline boost::asio::awaitable<bool> write_raw_tolerant(client::DerpClient& c,
                                                       const std::vector<std::uint8_t>& bytes) {
  bool ok = true;
  try {
    co_await c.write_raw(bytes);
  } catch (const std::exception&) {
    ok = false;
  }
  co_return ok;
}

}  // namespace derp::testing
