// One port, one socket per worker (relay/transport/port_group.h): the sockets share the port, and
// a second group on a held port fails instead of silently taking part of the traffic.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <type_traits>

#include "relay/transport/port_group.h"

namespace derp::transport {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

struct Contexts {
  asio::io_context a, b;
  std::vector<asio::io_context*> both{&a, &b};
};

template <class Socket>
void expect_group_shares_one_port_and_refuses_a_second_group() {
  Contexts contexts;
  const typename Socket::endpoint_type any_port(asio::ip::make_address("127.0.0.1"), 0);
  int configured = 0;
  auto group = open_port_group<Socket>(any_port, contexts.both, [&](Socket&) { ++configured; });
  ASSERT_EQ(group.size(), 2u);
  EXPECT_EQ(configured, 2);
  const auto port = group[0].local_endpoint().port();
  EXPECT_NE(port, 0);
  EXPECT_EQ(group[1].local_endpoint().port(), port);
  // A TCP port counts as held once someone listens on it (TIME_WAIT leftovers do not).
  if constexpr (std::is_same_v<Socket, tcp::acceptor>) {
    for (auto& s : group) s.listen();
  }

  typename Socket::endpoint_type taken(any_port.address(), port);
  try {
    (void)open_port_group<Socket>(taken, contexts.both, [](Socket&) {});
    FAIL() << "a second group joined the first one's port";
  } catch (const PortGroupError& e) {
    EXPECT_TRUE(e.address_in_use()) << e.what();
    EXPECT_EQ(e.step(), "bind");
  }
}

TEST(PortGroup, TcpListenersShareOnePortAndASecondGroupIsRefused) {
  expect_group_shares_one_port_and_refuses_a_second_group<tcp::acceptor>();
}

TEST(PortGroup, UdpSocketsShareOnePortAndASecondGroupIsRefused) {
  expect_group_shares_one_port_and_refuses_a_second_group<udp::socket>();
}

TEST(PortGroup, AFreedPortCanBeTakenAgain) {
  Contexts contexts;
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  {
    auto group = open_port_group<tcp::acceptor>(endpoint, contexts.both, [](tcp::acceptor&) {});
    endpoint.port(group[0].local_endpoint().port());
  }
  auto again = open_port_group<tcp::acceptor>(endpoint, contexts.both, [](tcp::acceptor&) {});
  EXPECT_EQ(again[1].local_endpoint().port(), endpoint.port());
}

}  // namespace
}  // namespace derp::transport
