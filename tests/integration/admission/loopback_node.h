// The derpd that the admission and rate-limit tests start: loopback only, an ephemeral port, no
// STUN port of its own, its key in `dir`, and a mesh key the test knows, so that a test client
// can present it and be a mesh peer. The test adds the flags it is about.
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "relay/protocol/key.h"
#include "tests/support/derpd_process.h"

namespace derp::testing {

inline constexpr char kTestMeshKeyHex[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

// The bytes of kTestMeshKeyHex.
inline protocol::KeyBytes test_mesh_key() {
  protocol::KeyBytes k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(0x11 * (i % 16));
  return k;
}

inline std::unique_ptr<DerpdProcess> start_loopback_node(const std::string& dir,
                                                         const std::vector<std::string>& flags) {
  const std::string mesh_key_file = dir + "/mesh.key";
  std::ofstream(mesh_key_file) << kTestMeshKeyHex << '\n';
  std::vector<std::string> args{"-a", "127.0.0.1:0",     "--stun-port",     "0",
                                "-c", dir + "/node.key", "--mesh-psk-file", mesh_key_file};
  args.insert(args.end(), flags.begin(), flags.end());
  return std::make_unique<DerpdProcess>(args);
}

}  // namespace derp::testing
