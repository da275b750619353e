// Small conveniences over relay/client for integration tests.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "relay/client/derp_client.h"

namespace derp::testing {

inline boost::asio::awaitable<std::unique_ptr<client::DerpClient>> connect_client(
    std::string url, protocol::NodePrivate key = protocol::NodePrivate::generate(),
    std::string ca_file = {}) {
  client::ClientOptions o;
  o.url = std::move(url);
  o.key = key;
  o.ca_file = std::move(ca_file);
  auto ex = co_await boost::asio::this_coro::executor;
  co_return co_await client::DerpClient::connect(ex, std::move(o));
}

// The next RecvPacket, skipping keepalives and other control frames.
inline boost::asio::awaitable<client::RecvPacket> next_packet(client::DerpClient& c) {
  for (;;) {
    auto m = co_await c.receive();
    if (auto* p = std::get_if<client::RecvPacket>(&m)) co_return std::move(*p);
  }
}

// The next message that is not a KeepAlive.
inline boost::asio::awaitable<client::ReceivedMessage> next_message(client::DerpClient& c) {
  for (;;) {
    auto m = co_await c.receive();
    if (!std::holds_alternative<client::KeepAlive>(m)) co_return m;
  }
}

inline std::vector<std::uint8_t> numbered_packet(std::uint32_t seq, std::size_t size) {
  std::vector<std::uint8_t> p(size);
  for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<std::uint8_t>(seq * 31 + i);
  for (std::size_t i = 0; i < 4 && i < size; ++i) p[i] = static_cast<std::uint8_t>(seq >> (8 * i));
  return p;
}

namespace detail {
inline boost::asio::awaitable<void> receive_into(
    client::DerpClient* c, std::shared_ptr<std::optional<client::RecvPacket>> out) {
  *out = co_await next_packet(*c);
}
}  // namespace detail

// Sends numbered packets of `size` bytes from `from` to `to` every 20 ms until one comes out at
// `to`, and returns it. For a route that settles asynchronously (a key that just moved nodes, a
// sibling that just linked): one packet sent too early is dropped and a single send would wait
// for ever. Throws when nothing arrives within `within`.
inline boost::asio::awaitable<client::RecvPacket> send_until_received(
    client::DerpClient& from, client::DerpClient& to, std::size_t size = 100,
    std::chrono::milliseconds within = std::chrono::seconds(10)) {
  auto ex = co_await boost::asio::this_coro::executor;
  auto arrived = std::make_shared<std::optional<client::RecvPacket>>();
  boost::asio::co_spawn(ex, detail::receive_into(&to, arrived), boost::asio::detached);
  boost::asio::steady_timer pause(ex);
  const auto give_up = std::chrono::steady_clock::now() + within;
  for (std::uint32_t n = 0; !*arrived; ++n) {
    if (std::chrono::steady_clock::now() > give_up) {
      throw std::runtime_error("no packet arrived within " + std::to_string(within.count()) +
                               " ms of sending");
    }
    co_await from.send_packet(to.public_key(), numbered_packet(n, size));
    pause.expires_after(std::chrono::milliseconds(20));
    co_await pause.async_wait(boost::asio::use_awaitable);
  }
  co_return std::move(**arrived);
}

}  // namespace derp::testing
