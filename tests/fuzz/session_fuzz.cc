// A hostile client after a valid handshake: arbitrary bytes, split into arbitrary reads, fed to a
// ClientSession. The session may close the connection but must never crash, hang or overrun.
#include <cstdint>
#include <vector>

#include "tests/support/session_harness.h"

using namespace derp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The handshake is done once: its scalar multiplication and ClientInfo JSON were most of an
  // input's time, and client_info_fuzz covers them. Each input gets a fresh session that starts
  // established with the same key.
  static testing::CoreHarness core;
  static const protocol::NodePrivate client_key = protocol::NodePrivate::generate();
  static const protocol::BoxKey shared = *protocol::box_key(client_key, core.server->public_key());
  testing::SessionUnderTest s(*core.server, client_key);
  protocol::ClientInfo info;
  info.version = 2;
  s.session->establish(client_key.public_key(), info, shared);
  // The first byte picks the read size, so the fuzzer explores frames split across reads.
  std::size_t chunk = size ? (data[0] % 64) + 1 : 1;
  protocol::Bytes rest(data, size);
  while (!rest.empty()) {
    auto n = std::min(chunk, rest.size());
    if (!s.feed(rest.first(n))) break;
    rest = rest.subspan(n);
  }
  std::vector<std::uint8_t> out;
  s.session->take_output(out, 1 << 20);
  core.server->worker(0).run_pending();
  return 0;
}
