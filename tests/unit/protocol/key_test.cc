#include <gtest/gtest.h>

#include "relay/protocol/key.h"
#include "tests/unit/protocol/vectors.h"

namespace derp::protocol {
namespace {

using testing::kClientAPublic;
using testing::kServerSPublic;

TEST(Key, PublicKeysOfTheSpecVectors) {
  EXPECT_EQ(testing::server_s_private().public_key().to_text(), kServerSPublic);
  EXPECT_EQ(testing::client_a_private().public_key().to_text(), kClientAPublic);
  EXPECT_EQ(testing::client_b_private().public_key().to_text(), testing::kClientBPublic);
}

TEST(Key, ShortForm) {
  EXPECT_EQ(parse_node_public(kServerSPublic)->short_form(), "[17XoH]");
  EXPECT_EQ(parse_node_public(kClientAPublic)->short_form(), "[kXeyM]");
  EXPECT_EQ(parse_node_public(testing::kClientBPublic)->short_form(), "[7zi0q]");
}

TEST(Key, TextRoundTripAndUpperCase) {
  auto k =
      parse_node_public("nodekey:D7B5E81D336E578B13B8D706E82D061E3038C96BCE66CDCF50D566B96DDBBA10");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->to_text(), kServerSPublic);
  EXPECT_EQ(testing::server_s_private().to_text(),
            "privkey:4040404040404040404040404040404040404040404040404040404040404040");
}

TEST(Key, RejectsMalformedText) {
  EXPECT_FALSE(parse_node_public(""));
  EXPECT_FALSE(parse_node_public("nodekey:"));
  EXPECT_FALSE(parse_node_public(
      "privkey:4040404040404040404040404040404040404040404040404040404040404040"));
  EXPECT_FALSE(
      parse_node_public("nodekey:d7b5e81d336e578b13b8d706e82d061e3038c96bce66cdcf50d566b96ddbba1"));
  EXPECT_FALSE(parse_node_public(
      "nodekey:d7b5e81d336e578b13b8d706e82d061e3038c96bce66cdcf50d566b96ddbba100"));
  EXPECT_FALSE(parse_node_public(
      "nodekey:g7b5e81d336e578b13b8d706e82d061e3038c96bce66cdcf50d566b96ddbba10"));
  EXPECT_FALSE(parse_node_private("privkey:zz"));
}

TEST(Key, GeneratedKeysAreClampedAndDistinct) {
  auto a = NodePrivate::generate();
  auto b = NodePrivate::generate();
  EXPECT_NE(a.bytes, b.bytes);
  EXPECT_EQ(a.bytes[0] & 7, 0);
  EXPECT_EQ(a.bytes[31] & 0xc0, 0x40);
  EXPECT_FALSE(a.public_key().is_zero());
}

}  // namespace
}  // namespace derp::protocol
