// The bytes a real v1.36.2 client sent (tests/testdata) parse and open with our codec.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "relay/protocol/box.h"
#include "relay/protocol/client_info.h"
#include "relay/protocol/frame.h"
#include "tests/support/capture.h"

namespace derp::protocol {
namespace {

NodePrivate capture_server_key() {
  auto doc = nlohmann::json::parse(testing::read_text_file(testing::testdata_dir() / "server.key"));
  return *parse_node_private(doc.at("PrivateKey").get<std::string>());
}

std::string capture_mesh_key() {
  auto text = testing::read_text_file(testing::testdata_dir() / "mesh.key");
  text.erase(std::remove_if(text.begin(), text.end(), ::isspace), text.end());
  return text;
}

struct Session {
  const char* file;
  bool has_mesh_key;
  int send_packets;
};

class RealClientSession : public ::testing::TestWithParam<Session> {};

TEST_P(RealClientSession, ClientBytesParseAndOpen) {
  auto c2s = testing::concat(testing::load_capture(GetParam().file), true);
  const std::string_view end_of_headers = "\r\n\r\n";
  auto it = std::search(c2s.begin(), c2s.end(), end_of_headers.begin(), end_of_headers.end());
  ASSERT_NE(it, c2s.end());
  Bytes stream(&*(it + end_of_headers.size()), c2s.end() - (it + end_of_headers.size()));

  int frames = 0, send_packets = 0;
  while (!stream.empty()) {
    auto header = parse_frame_header(stream);
    ASSERT_TRUE(header);
    ASSERT_GE(stream.size(), kFrameHeaderLen + header->length);
    Bytes payload = stream.subspan(kFrameHeaderLen, header->length);
    if (frames == 0) {
      ASSERT_EQ(header->type, static_cast<int>(FrameType::kClientInfo));
      auto frame = parse_client_info(payload);
      ASSERT_TRUE(frame);
      auto json = open_box(frame.value.sealed, capture_server_key(), frame.value.key);
      ASSERT_TRUE(json) << "ClientInfo box did not open with server.key";
      auto info = parse_client_info_json(std::string(json->begin(), json->end()));
      ASSERT_TRUE(info.info) << info.error;
      EXPECT_EQ(info.info->version, 2);
      EXPECT_EQ(info.info->mesh_key.has_value(), GetParam().has_mesh_key);
      if (info.info->mesh_key) {
        EXPECT_EQ(to_hex(*info.info->mesh_key), capture_mesh_key());
      }
    } else if (header->type == static_cast<int>(FrameType::kSendPacket)) {
      EXPECT_TRUE(parse_send_packet(payload));
      ++send_packets;
    } else if (header->type == static_cast<int>(FrameType::kPing)) {
      EXPECT_TRUE(parse_ping(payload));
    }
    stream = stream.subspan(kFrameHeaderLen + header->length);
    ++frames;
  }
  EXPECT_EQ(send_packets, GetParam().send_packets);
}

INSTANTIATE_TEST_SUITE_P(V1_36_2, RealClientSession,
                         ::testing::Values(Session{"http/conn-001.json", false, 21},
                                           Session{"http/conn-002.json", false, 10},
                                           Session{"http/conn-003.json", false, 1},
                                           Session{"http/conn-004.json", false, 0},
                                           Session{"http/conn-005.json", true, 0},
                                           Session{"http/conn-006.json", false, 0},
                                           Session{"http/conn-007.json", true, 0},
                                           Session{"http/conn-008.json", true, 0}));

}  // namespace
}  // namespace derp::protocol
