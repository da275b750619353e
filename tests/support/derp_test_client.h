// Small conveniences over relay/client for integration tests.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
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

}  // namespace derp::testing
