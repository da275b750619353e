#include <gtest/gtest.h>

#include <array>
#include <numeric>
#include <string>

#include "relay/protocol/box.h"
#include "relay/protocol/frame.h"
#include "tests/support/hex.h"
#include "tests/unit/protocol/vectors.h"

namespace derp::protocol {
namespace {

using testing::from_hex;

std::vector<std::uint8_t> bytes_of(std::string_view s) {
  return {s.begin(), s.end()};
}

TEST(Box, ClientInfoVectorOfSpec12_3) {
  std::array<std::uint8_t, kNonceLen> nonce;
  std::iota(nonce.begin(), nonce.end(), 0);
  auto server = testing::server_s_private().public_key();
  auto sealed = seal_box_with_nonce(bytes_of(R"({"version":2,"CanAckPings":true})"),
                                    testing::client_a_private(), server, nonce);
  std::vector<std::uint8_t> frame;
  append_client_info(frame, testing::client_a_private().public_key(), sealed);
  EXPECT_EQ(frame, from_hex(R"(
    02 00 00 00 68 91 77 b2 32 78 cb f0 f3 d1 7c 36 f2 ac c9 b5 5e 9c 85 f8 7b 22 0a 53 86 ec 37 0d
    66 3e 20 e3 37 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 4e 4a b2
    a3 82 bf 55 37 cb 12 19 3a 5b 1d 2a 6f 9e f2 10 8e ad 1b 9c eb f2 7e 16 e5 06 9f 0f fd 19 a2 9d
    b0 c1 00 d0 ed ba 3d 69 f3 51 8f 61 c0)"));

  auto opened =
      open_box(sealed, testing::server_s_private(), testing::client_a_private().public_key());
  ASSERT_TRUE(opened);
  EXPECT_EQ(std::string(opened->begin(), opened->end()), R"({"version":2,"CanAckPings":true})");
}

TEST(Box, ServerInfoVectorOfSpec12_4) {
  std::array<std::uint8_t, kNonceLen> nonce;
  std::iota(nonce.begin(), nonce.end(), 0x18);
  auto sealed = seal_box_with_nonce(bytes_of(R"({"version":2})"), testing::server_s_private(),
                                    testing::client_a_private().public_key(), nonce);
  std::vector<std::uint8_t> frame;
  append_server_info(frame, sealed);
  EXPECT_EQ(frame, from_hex(R"(
    03 00 00 00 35 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 38 9c 16
    9a bd e9 0c 23 5a 59 49 5f e9 bd 95 60 38 cd 14 06 fb 48 25 de 25 75 9d b3 77)"));
}

TEST(Box, RandomNoncesDifferAndOpen) {
  auto a = testing::client_a_private();
  auto s = testing::server_s_private();
  auto one = seal_box(bytes_of("x"), a, s.public_key());
  auto two = seal_box(bytes_of("x"), a, s.public_key());
  EXPECT_NE(one, two);
  EXPECT_TRUE(open_box(one, s, a.public_key()));
}

TEST(Box, RejectsTamperedShortAndWrongKey) {
  auto a = testing::client_a_private();
  auto s = testing::server_s_private();
  auto sealed = seal_box(bytes_of("hello"), a, s.public_key());
  auto tampered = sealed;
  tampered.back() ^= 1;
  EXPECT_FALSE(open_box(tampered, s, a.public_key()));
  EXPECT_FALSE(open_box(std::span(sealed).first(kNonceLen + kBoxOverhead - 1), s, a.public_key()));
  EXPECT_FALSE(open_box(sealed, s, testing::client_b_private().public_key()));
  EXPECT_FALSE(open_box(sealed, s, NodePublic{}));  // all-zero key is small-order
}

TEST(Box, SharedKeyOpensAndSealsLikeTheKeyPair) {
  auto a = testing::client_a_private();
  auto s = testing::server_s_private();
  auto server_side = box_key(s, a.public_key());
  auto client_side = box_key(a, s.public_key());
  ASSERT_TRUE(server_side && client_side);
  EXPECT_EQ(server_side->bytes, client_side->bytes);
  // A box sealed with the key pair opens with the shared key, and the other way round.
  auto from_client = seal_box(bytes_of("client info"), a, s.public_key());
  auto opened = open_box(from_client, *server_side);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, bytes_of("client info"));
  auto from_server = seal_box(bytes_of("server info"), *server_side);
  auto reopened = open_box(from_server, s, a.public_key());
  ASSERT_TRUE(reopened);
  EXPECT_EQ(*reopened, bytes_of("server info"));
  auto tampered = from_server;
  tampered.back() ^= 1;
  EXPECT_FALSE(open_box(tampered, *client_side));
  EXPECT_FALSE(box_key(s, NodePublic{})) << "an all-zero key is small-order";
}

}  // namespace
}  // namespace derp::protocol
