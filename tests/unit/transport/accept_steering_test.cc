// Steering new connections to the first sockets of a listening group
// (relay/transport/accept_steering.h), with real loopback connects: the kernel must put every
// connection in the queue of a socket the program names, and none in the others'.
#include <gtest/gtest.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "relay/transport/accept_steering.h"
#include "relay/transport/port_group.h"

namespace derp::transport {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

class AcceptSteering : public ::testing::Test {
 protected:
  void SetUp() override {
    group_ = open_port_group<tcp::acceptor>(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                                            contexts_, [](tcp::acceptor&) {});
    for (auto& a : group_) {
      a.listen();
      a.non_blocking(true);
    }
  }
  // Connects `n` times (the handshake completes in the kernel, nothing accepts yet), then counts
  // what each listener's queue holds.
  std::array<int, 3> connect_and_count(int n) {
    std::vector<tcp::socket> clients;
    for (int i = 0; i < n; ++i) {
      clients.emplace_back(client_io_);
      clients.back().connect(group_[0].local_endpoint());
    }
    std::array<int, 3> accepted{};
    for (std::size_t i = 0; i < group_.size(); ++i) {
      for (;;) {
        boost::system::error_code ec;
        tcp::socket s = group_[i].accept(ec);
        if (ec) break;
        ++accepted[i];
      }
    }
    return accepted;
  }

  asio::io_context io_, client_io_;
  std::vector<asio::io_context*> contexts_{&io_, &io_, &io_};
  std::vector<tcp::acceptor> group_;
};

TEST(AcceptSteeringProgram, OneSocketIsAConstantAndMoreAreARandomIndexModuloTheirNumber) {
  auto one = accept_steering_program(1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].code, BPF_RET | BPF_K);
  EXPECT_EQ(one[0].k, 0u);
  EXPECT_EQ(accept_steering_program(0).size(), 1u);
  auto three = accept_steering_program(3);
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three[0].k, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM));
  EXPECT_EQ(three[1].code, BPF_ALU | BPF_MOD | BPF_K);
  EXPECT_EQ(three[1].k, 3u);
  EXPECT_EQ(three[2].code, BPF_RET | BPF_A);
}

TEST_F(AcceptSteering, OneSocketGetsEveryConnection) {
  ASSERT_FALSE(steer_accepts(group_[1].native_handle(), 1));  // any member steers the group
  auto counts = connect_and_count(30);
  EXPECT_EQ(counts[0], 30);
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[2], 0);
}

TEST_F(AcceptSteering, TwoOfThreeShareAndTheThirdGetsNothing) {
  ASSERT_FALSE(steer_accepts(group_[0].native_handle(), 2));
  auto counts = connect_and_count(40);
  EXPECT_EQ(counts[0] + counts[1], 40);
  // Random halves: all 40 on one side happens once in 2^39 runs.
  EXPECT_GT(counts[0], 0);
  EXPECT_GT(counts[1], 0);
  EXPECT_EQ(counts[2], 0);
}

TEST_F(AcceptSteering, ANewProgramReplacesTheOld) {
  ASSERT_FALSE(steer_accepts(group_[0].native_handle(), 1));
  ASSERT_FALSE(steer_accepts(group_[0].native_handle(), 3));
  auto counts = connect_and_count(60);
  for (int c : counts) EXPECT_GT(c, 0);  // one left out once in (3/2)^60 runs
}

TEST(AcceptSteeringErrors, ASocketOutsideAGroupIsRefused) {
  asio::io_context io;
  tcp::acceptor lone(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  EXPECT_TRUE(steer_accepts(lone.native_handle(), 1));
}

}  // namespace
}  // namespace derp::transport
