// A hostile client after a valid handshake: arbitrary bytes, split into arbitrary reads, fed to a
// ClientSession. The session may close the connection but must never crash, hang or overrun.
#include <cstdint>
#include <vector>

#include "tests/support/session_harness.h"

using namespace derp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Done once: a fresh key and box per input cost two Curve25519 operations and capped the
  // fuzzer at hundreds of inputs a second. Sessions run one after another, so one key will do.
  static testing::CoreHarness core;
  static const protocol::NodePrivate client_key = protocol::NodePrivate::generate();
  static const std::vector<std::uint8_t> hello = [] {
    protocol::ClientInfo info;
    info.version = 2;
    return testing::client_info_frame(client_key, core.server->public_key(), info);
  }();
  testing::SessionUnderTest s(*core.server, client_key);
  s.feed(hello);
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
