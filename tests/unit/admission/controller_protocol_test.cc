// The admission checks' wire formats (protocol §4.9), without a network: what derpd sends to a
// controller and tailscaled, and which answers admit.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "relay/admission/controller_protocol.h"

namespace derp::admission {
namespace {

TEST(ControllerRequest, NamesTheKeyAndTheSourceAddress) {
  auto key = protocol::NodePrivate::generate().public_key();
  auto body = nlohmann::json::parse(controller_request_body(key, "192.0.2.1"));
  EXPECT_EQ(body, (nlohmann::json{{"NodePublic", key.to_text()}, {"Source", "192.0.2.1"}}));
  EXPECT_EQ(nlohmann::json::parse(controller_request_body(key, ""))["Source"], "");
}

TEST(ControllerVerdict, OnlyA200WithAllowTrueAdmits) {
  EXPECT_TRUE(controller_verdict(200, R"({"Allow":true})").admit);
  EXPECT_TRUE(controller_verdict(200, R"({"allow": true, "Why": "listed"})").admit);
  EXPECT_TRUE(controller_verdict(200, R"( {"ALLOW":true} and then anything)").admit);
  EXPECT_FALSE(controller_verdict(200, R"({"Allow":false})").admit);
  EXPECT_FALSE(controller_verdict(200, R"({})").admit);
  EXPECT_FALSE(controller_verdict(200, R"({"Allow":null})").admit);
  EXPECT_FALSE(controller_verdict(200, R"({"Allow":"true"})").admit);
  EXPECT_FALSE(controller_verdict(200, R"({"Allow":1})").admit);
  EXPECT_FALSE(controller_verdict(200, R"([true])").admit);
  EXPECT_FALSE(controller_verdict(200, "").admit);
  EXPECT_FALSE(controller_verdict(200, "Allow").admit);
  EXPECT_FALSE(controller_verdict(201, R"({"Allow":true})").admit);
  EXPECT_FALSE(controller_verdict(500, R"({"Allow":true})").admit);
  EXPECT_EQ(controller_verdict(403, "").reason, "controller answered HTTP 403");
}

TEST(ControllerVerdict, ReadsAtMostFourKilobytes) {
  // The first JSON value must end within the limit, as with the reference's LimitReader.
  std::string padded = "{\"Pad\":\"" + std::string(5000, 'x') + "\",\"Allow\":true}";
  EXPECT_FALSE(controller_verdict(200, padded).admit);
  std::string trailing = std::string("{\"Allow\":true}") + std::string(5000, ' ');
  EXPECT_TRUE(controller_verdict(200, trailing).admit);
}

TEST(Whois, TargetAndVerdicts) {
  auto key = protocol::NodePrivate::generate().public_key();
  EXPECT_EQ(whois_target(key), "/localapi/v0/whois?addr=nodekey%3A" + key.to_hex());
  EXPECT_TRUE(whois_verdict(200, "{}").admit);
  EXPECT_FALSE(whois_verdict(404, "no match").admit);
  EXPECT_NE(whois_verdict(404, "").reason.find("not a node of this tailnet"), std::string::npos);
  auto old = whois_verdict(400, "invalid 'addr' parameter");
  EXPECT_FALSE(old.admit);
  EXPECT_NE(old.reason.find("too old"), std::string::npos);
  auto other = whois_verdict(500, "boom\x01");
  EXPECT_FALSE(other.admit);
  EXPECT_NE(other.reason.find("HTTP 500"), std::string::npos);
  EXPECT_EQ(other.reason.find('\x01'), std::string::npos) << "escaped for the log";
}

}  // namespace
}  // namespace derp::admission
