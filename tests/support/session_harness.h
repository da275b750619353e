// Drives a ClientSession with no sockets: a fake transport collects what the session would write.
// For unit tests and the session fuzz target.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "relay/protocol/box.h"
#include "relay/protocol/client_info.h"
#include "relay/protocol/frame.h"
#include "relay/server/client_session.h"
#include "relay/server/server.h"

namespace derp::testing {

class FakeTransport : public server::SessionTransport {
 public:
  void wake_writer() override { ++wakes; }
  void close() override { closed = true; }
  void end_output_after_flush() override { ending_output = true; }
  void input_limit_changed() override { ++limit_changes; }
  bool write_stalled(std::chrono::steady_clock::time_point,
                     std::chrono::milliseconds) const override {
    return stalled;
  }
  int wakes = 0;
  int limit_changes = 0;
  bool closed = false;
  bool ending_output = false;
  bool stalled = false;
};

struct Frame {
  std::uint8_t type;
  std::vector<std::uint8_t> payload;
};

// Splits a byte stream into whole frames; stops at an incomplete tail.
inline std::vector<Frame> split_frames(protocol::Bytes in) {
  std::vector<Frame> out;
  while (auto h = protocol::parse_frame_header(in)) {
    if (in.size() < protocol::kFrameHeaderLen + h->length) break;
    auto p = in.subspan(protocol::kFrameHeaderLen, h->length);
    out.push_back({h->type, {p.begin(), p.end()}});
    in = in.subspan(protocol::kFrameHeaderLen + h->length);
  }
  return out;
}

inline std::vector<std::uint8_t> client_info_frame(const protocol::NodePrivate& client,
                                                   const protocol::NodePublic& server,
                                                   const protocol::ClientInfo& info) {
  auto json = protocol::write_client_info_json(info);
  auto sealed = protocol::seal_box(
      protocol::Bytes(reinterpret_cast<const std::uint8_t*>(json.data()), json.size()), client,
      server);
  std::vector<std::uint8_t> out;
  protocol::append_client_info(out, client.public_key(), sealed);
  return out;
}

// A clock that moves only when a test says so (ServerConfig::clock).
struct ManualClock {
  static inline std::chrono::steady_clock::time_point now_value{std::chrono::hours(1)};
  static std::chrono::steady_clock::time_point now() { return now_value; }
  static void advance(std::chrono::steady_clock::duration d) { now_value += d; }
};

// A relay core whose workers are never started: sessions run on the test's thread.
struct CoreHarness {
  explicit CoreHarness(std::optional<protocol::KeyBytes> mesh_key = std::nullopt,
                       std::chrono::steady_clock::time_point (*clock)() = nullptr,
                       const std::function<void(server::ServerConfig&)>& configure = {}) {
    server::ServerConfig config;
    config.private_key = protocol::NodePrivate::generate();
    config.mesh_key = mesh_key;
    config.workers = 1;  // `configure` may ask for more: none of them is started either
    if (clock) config.clock = clock;
    if (configure) configure(config);
    server = std::make_unique<server::Server>(config);
  }
  std::unique_ptr<server::Server> server;
};

struct SessionUnderTest {
  SessionUnderTest(server::Server& srv,
                   protocol::NodePrivate key = protocol::NodePrivate::generate(),
                   std::size_t worker = 0)
      : client_key(key),
        session(std::make_unique<server::ClientSession>(srv, srv.worker(worker), transport,
                                                        server::ConnectionInfo{})) {
    session->start("");
  }
  ~SessionUnderTest() { session->shutdown(); }

  std::vector<Frame> drain() {
    std::vector<std::uint8_t> out;
    session->take_output(out, 1 << 20);
    return split_frames(out);
  }
  bool feed(protocol::Bytes b) { return session->on_bytes(b); }

  protocol::NodePrivate client_key;
  FakeTransport transport;
  std::unique_ptr<server::ClientSession> session;
};

}  // namespace derp::testing
