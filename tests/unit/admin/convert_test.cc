// Core values to admin API messages.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "relay/admin/convert.h"

namespace derp::admin {
namespace {

TEST(Convert, ClientKeysInBothSpellings) {
  auto key = protocol::NodePrivate::generate().public_key();
  EXPECT_EQ(parse_client_key(key.to_text()), key);
  EXPECT_EQ(parse_client_key(key.to_hex()), key);
  EXPECT_FALSE(parse_client_key("nodekey:12"));
  EXPECT_FALSE(parse_client_key("mkey:" + key.to_hex()));
  EXPECT_FALSE(parse_client_key(""));
}

TEST(Convert, SnapshotFields) {
  server::SessionSnapshot s;
  s.conn_id = 9;
  s.key = protocol::NodePrivate::generate().public_key();
  s.info.transport = server::TransportKind::kWebSocket;
  s.info.remote_text = "192.0.2.1:5555";
  s.preferred = true;
  s.can_mesh = true;
  s.bytes_in = 100;
  s.queue_depth = 3;
  s.connected_at = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  pb::Client c;
  to_proto(s, c);
  EXPECT_EQ(c.key(), s.key.to_text());
  EXPECT_EQ(c.transport(), pb::TRANSPORT_WEBSOCKET);
  EXPECT_EQ(c.remote_addr(), "192.0.2.1:5555");
  EXPECT_TRUE(c.home());
  EXPECT_TRUE(c.mesh_peer());
  EXPECT_EQ(c.bytes_in(), 100u);
  EXPECT_EQ(c.queue_depth(), 3u);
  EXPECT_EQ(c.connected_at().seconds(), 1700000000);
}

TEST(Convert, DrainStatus) {
  server::DrainProgress p;
  p.state = server::DrainState::kDraining;
  p.remaining = 5;
  p.closed = 7;
  pb::DrainStatus out;
  to_proto(p, out);
  EXPECT_EQ(out.state(), pb::DRAIN_STATE_DRAINING);
  EXPECT_EQ(out.remaining(), 5u);
  EXPECT_EQ(out.closed(), 7u);
}

TEST(Convert, DurationsRoundTripInMilliseconds) {
  google::protobuf::Duration d;
  set_duration(d, std::chrono::milliseconds(1500));
  EXPECT_EQ(to_millis(d), std::chrono::milliseconds(1500));
}

// admin_request_fuzz found a drain deadline of 2^54 s overflowing when scaled to milliseconds;
// wrapped, it could pass the 24 h check as a short or negative deadline.
TEST(Convert, HugeDurationsSaturateInsteadOfOverflowing) {
  google::protobuf::Duration d;
  d.set_seconds(16888498602639359);
  EXPECT_GT(to_millis(d), std::chrono::hours(24 * 365 * 1000));
  d.set_seconds(std::numeric_limits<std::int64_t>::max());
  d.set_nanos(999'999'999);
  EXPECT_GT(to_millis(d), std::chrono::hours(24 * 365 * 1000));
  d.set_seconds(std::numeric_limits<std::int64_t>::min());
  d.set_nanos(-999'999'999);
  EXPECT_LT(to_millis(d), std::chrono::milliseconds(0));
}

}  // namespace
}  // namespace derp::admin
