// Connection admission by descriptors, accept rate, total and per source address
// (relay/limits/connection_limits.h), with a clock the test moves.
#include <gtest/gtest.h>

#include <vector>

#include "relay/limits/connection_limits.h"

namespace derp::limits {
namespace {

namespace ip = boost::asio::ip;
using Clock = std::chrono::steady_clock;

const ip::address kA = ip::make_address("192.0.2.1");
const ip::address kB = ip::make_address("192.0.2.2");
const ip::address kLoopback = ip::make_address("127.0.0.1");
constexpr int kLowFd = 10;

std::shared_ptr<ConnectionLimits> limits_with(ConnectionLimitSettings s,
                                              std::uint64_t descriptor_limit = 0) {
  ConnectionLimits::DescriptorLimit fd_limit;
  if (descriptor_limit > 0) fd_limit = [descriptor_limit] { return descriptor_limit; };
  return ConnectionLimits::create(s, transport::parse_prefix_list("127.0.0.0/8,::1"), fd_limit);
}

TEST(ConnectionLimits, NoLimitsAdmitsEverything) {
  auto limits = limits_with({});
  std::vector<ConnectionSlot> held;
  for (int i = 0; i < 1000; ++i) {
    auto a = limits->admit(kA, kLowFd, Clock::now());
    ASSERT_TRUE(a.slot);
    held.push_back(std::move(a.slot));
  }
  EXPECT_EQ(limits->stats().open, 1000u);
  EXPECT_EQ(limits->stats().source_ips, 1u);
}

TEST(ConnectionLimits, PerIpLimitCountsEachAddressAndFreesOnClose) {
  ConnectionLimitSettings s;
  s.max_per_ip = 2;
  auto limits = limits_with(s);
  auto a1 = limits->admit(kA, kLowFd, Clock::now());
  auto a2 = limits->admit(kA, kLowFd, Clock::now());
  auto a3 = limits->admit(kA, kLowFd, Clock::now());
  EXPECT_TRUE(a1.slot && a2.slot);
  EXPECT_FALSE(a3.slot);
  EXPECT_EQ(a3.refused, Refusal::kPerIp);
  // Another address, and the v4-mapped spelling of the first one, are counted apart / together.
  EXPECT_TRUE(limits->admit(kB, kLowFd, Clock::now()).slot);
  EXPECT_EQ(limits->admit(ip::make_address("::ffff:192.0.2.1"), kLowFd, Clock::now()).refused,
            Refusal::kPerIp);
  a1.slot = ConnectionSlot();  // one closes
  EXPECT_TRUE(limits->admit(kA, kLowFd, Clock::now()).slot);
  EXPECT_EQ(limits->stats().refused[static_cast<std::size_t>(Refusal::kPerIp)], 2u);
}

TEST(ConnectionLimits, Ipv6PeersCountPerSlash64) {
  ConnectionLimitSettings s;
  s.max_per_ip = 2;
  auto limits = limits_with(s);
  auto a = limits->admit(ip::make_address("2001:db8:1:2::1"), kLowFd, Clock::now());
  auto b = limits->admit(ip::make_address("2001:db8:1:2::ffff"), kLowFd, Clock::now());
  ASSERT_TRUE(a.slot && b.slot);
  EXPECT_EQ(limits->admit(ip::make_address("2001:db8:1:2:abcd::9"), kLowFd, Clock::now()).refused,
            Refusal::kPerIp)
      << "a third address of the same /64";
  EXPECT_TRUE(limits->admit(ip::make_address("2001:db8:1:3::1"), kLowFd, Clock::now()).slot)
      << "the next /64 is another peer";
}

TEST(ConnectionLimits, GlobalLimitAndLoopbackIsExempt) {
  ConnectionLimitSettings s;
  s.max_connections = 2;
  s.max_per_ip = 1;
  auto limits = limits_with(s);
  auto a = limits->admit(kA, kLowFd, Clock::now());
  auto b = limits->admit(kB, kLowFd, Clock::now());
  auto c = limits->admit(ip::make_address("192.0.2.3"), kLowFd, Clock::now());
  EXPECT_EQ(c.refused, Refusal::kMaxConnections);
  std::vector<ConnectionSlot> local;
  for (int i = 0; i < 10; ++i) {
    auto l = limits->admit(kLoopback, kLowFd, Clock::now());
    ASSERT_TRUE(l.slot) << "loopback is exempt";
    local.push_back(std::move(l.slot));
  }
  auto stats = limits->stats();
  EXPECT_EQ(stats.open, 2u);
  EXPECT_EQ(stats.open_exempt, 10u);
  local.clear();
  EXPECT_EQ(limits->stats().open_exempt, 0u);
}

TEST(ConnectionLimits, MeshSiblingAddressesAreExempt) {
  ConnectionLimitSettings s;
  s.max_per_ip = 1;
  auto limits = limits_with(s);
  limits->add_sibling_address(ip::make_address("::ffff:192.0.2.1"));
  auto a1 = limits->admit(kA, kLowFd, Clock::now());
  auto a2 = limits->admit(kA, kLowFd, Clock::now());
  EXPECT_TRUE(a1.slot && a2.slot);
}

TEST(ConnectionLimits, AcceptRateRefillsAtTheConfiguredRate) {
  ConnectionLimitSettings s;
  s.accept_rate = 10;  // one token per 100 ms
  s.accept_burst = 3;
  auto limits = limits_with(s);
  const auto t0 = Clock::now();
  std::vector<ConnectionSlot> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::move(limits->admit(kA, kLowFd, t0).slot));
  for (const auto& h : held) EXPECT_TRUE(h);
  EXPECT_EQ(limits->admit(kA, kLowFd, t0).refused, Refusal::kAcceptRate);
  EXPECT_EQ(limits->admit(kA, kLowFd, t0 + std::chrono::milliseconds(50)).refused,
            Refusal::kAcceptRate);
  EXPECT_TRUE(limits->admit(kA, kLowFd, t0 + std::chrono::milliseconds(110)).slot);
  // A long pause refills no more than the burst.
  const auto t1 = t0 + std::chrono::seconds(100);
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += limits->admit(kB, kLowFd, t1).slot ? 1 : 0;
  EXPECT_EQ(admitted, 3);
  // Loopback does not use tokens.
  EXPECT_TRUE(limits->admit(kLoopback, kLowFd, t1).slot);
}

TEST(ConnectionLimits, DescriptorReserveStopsStrangersBeforeExemptPeers) {
  const std::uint64_t fd_limit = 512;
  auto limits = limits_with({}, fd_limit);
  const auto reserve = ConnectionLimits::reserve_for(fd_limit);
  ASSERT_GE(reserve, 32u);
  const int last_for_strangers = static_cast<int>(fd_limit - reserve) - 1;
  EXPECT_TRUE(limits->admit(kA, last_for_strangers, Clock::now()).slot);
  EXPECT_EQ(limits->admit(kA, last_for_strangers + 1, Clock::now()).refused, Refusal::kDescriptors);
  // Exempt peers may use the reserve down to the floor.
  EXPECT_TRUE(limits->admit(kLoopback, last_for_strangers + 1, Clock::now()).slot);
  const int last_for_exempt = static_cast<int>(fd_limit - ConnectionLimits::kExemptFloor) - 1;
  EXPECT_TRUE(limits->admit(kLoopback, last_for_exempt, Clock::now()).slot);
  EXPECT_EQ(limits->admit(kLoopback, last_for_exempt + 1, Clock::now()).refused,
            Refusal::kDescriptors);
}

TEST(ConnectionLimits, UpdateAppliesToNewConnectionsAndKeepsOpenOnes) {
  auto limits = limits_with({});
  std::vector<ConnectionSlot> held;
  for (int i = 0; i < 5; ++i)
    held.push_back(std::move(limits->admit(kA, kLowFd, Clock::now()).slot));
  ConnectionLimitChange change;
  change.max_per_ip = 3;
  EXPECT_EQ(limits->update(change).max_per_ip, 3u);
  EXPECT_EQ(limits->stats().open, 5u);
  EXPECT_EQ(limits->admit(kA, kLowFd, Clock::now()).refused, Refusal::kPerIp);
  held.resize(2);  // three close: 2 open, under the new limit
  EXPECT_TRUE(limits->admit(kA, kLowFd, Clock::now()).slot);
  EXPECT_EQ(limits->stats().settings.max_per_ip, 3u);
}

TEST(ConnectionLimits, SlotOutlivesItsLimitsObjectSafely) {
  ConnectionSlot slot;
  {
    auto limits = limits_with({});
    slot = std::move(limits->admit(kA, kLowFd, Clock::now()).slot);
  }
  EXPECT_TRUE(slot);  // destroying it later must not touch freed memory (ASan checks)
}

}  // namespace
}  // namespace derp::limits
