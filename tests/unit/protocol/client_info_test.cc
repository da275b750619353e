#include <gtest/gtest.h>

#include "relay/protocol/client_info.h"

namespace derp::protocol {
namespace {

constexpr const char* kMeshHex = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";

TEST(ClientInfoJson, EverySerialisationSeenOnTheWire) {
  for (
      const char* json : {
          R"({"version":2,"CanAckPings":true})",
          R"({"meshKey":"101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f","version":2,"CanAckPings":false})",
          R"({"version":2,"CanAckPings":false,"IsProber":true})",
          R"({"version":2,"meshKey":"101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f","CanAckPings":false})",
      }) {
    auto r = parse_client_info_json(json);
    ASSERT_TRUE(r.info) << json << ": " << r.error;
    EXPECT_EQ(r.info->version, 2);
  }
}

TEST(ClientInfoJson, FieldsAndCaseInsensitiveKeys) {
  auto r = parse_client_info_json(
      R"({"MESHKEY":"101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F","Version":2,"canackpings":true,"isprober":true,"appname":"x","unknown":[1,2]})");
  ASSERT_TRUE(r.info) << r.error;
  ASSERT_TRUE(r.info->mesh_key);
  EXPECT_EQ(to_hex(*r.info->mesh_key), kMeshHex);
  EXPECT_TRUE(r.info->can_ack_pings);
  EXPECT_TRUE(r.info->is_prober);
  EXPECT_EQ(r.info->app_name, "x");
}

TEST(ClientInfoJson, AppNameIsKeptToItsFirst64BytesOnACharacterBoundary) {
  const std::string huge(261900, 'a');
  auto r = parse_client_info_json(R"({"AppName":")" + huge + R"("})");
  ASSERT_TRUE(r.info) << r.error;
  EXPECT_EQ(r.info->app_name, std::string(kMaxAppNameBytes, 'a'));
  // 63 ASCII bytes then "é" (2 bytes): the cut would split it, so it goes whole.
  r = parse_client_info_json(R"({"AppName":")" + std::string(63, 'b') + "\u00e9xyz\"}");
  ASSERT_TRUE(r.info) << r.error;
  EXPECT_EQ(r.info->app_name, std::string(63, 'b'));
  r = parse_client_info_json(R"({"AppName":"tailscaled"})");
  EXPECT_EQ(r.info->app_name, "tailscaled");
}

TEST(ClientInfoJson, EmptyObjectIsFine) {
  auto r = parse_client_info_json("{}");
  ASSERT_TRUE(r.info);
  EXPECT_FALSE(r.info->mesh_key);
  EXPECT_EQ(r.info->version, 0);
}

TEST(ClientInfoJson, RefusesBadInput) {
  for (const char* json : {
           "",
           "null",
           "[]",
           "{",
           R"({"version":"2"})",
           R"({"CanAckPings":1})",
           R"({"meshKey":""})",     // HEAD rejects an empty mesh key outright
           R"({"meshKey":"abc"})",  // not 64 hex digits
           R"({"meshKey":42})",
           R"({"meshKey":"101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2g"})",
       }) {
    auto r = parse_client_info_json(json);
    EXPECT_FALSE(r.info) << json;
    EXPECT_FALSE(r.error.empty()) << json;
  }
}

TEST(ClientInfoJson, RefusesDeepNesting) {
  std::string deep = R"({"x":)" + std::string(5000, '[') + std::string(5000, ']') + "}";
  EXPECT_FALSE(parse_client_info_json(deep).info);
}

TEST(ClientInfoJson, WritesHeadFieldOrder) {
  ClientInfo info;
  info.mesh_key = parse_hex32(kMeshHex);
  info.version = 2;
  EXPECT_EQ(write_client_info_json(info),
            std::string(R"({"meshKey":")") + kMeshHex + R"(","version":2,"CanAckPings":false})");
  ClientInfo plain;
  plain.version = 2;
  plain.can_ack_pings = true;
  EXPECT_EQ(write_client_info_json(plain), R"({"version":2,"CanAckPings":true})");
}

TEST(ServerInfoJson, ExactlyVersionTwo) {
  EXPECT_EQ(write_server_info_json({}), R"({"version":2})");
  EXPECT_EQ(parse_server_info_json(R"({"version":2,"TokenBucketBytesPerSecond":0})")->version, 2);
  EXPECT_FALSE(parse_server_info_json("nope"));
}

}  // namespace
}  // namespace derp::protocol
