// What an operator writes into derpd's flag values and files: durations, listen addresses,
// --mesh-with lists and files, mesh key and server key files. Bad input must produce an error,
// never a crash. The command line as a whole is flags_fuzz.
#include <cstdint>
#include <string>

#include "mesh/mesh_peers.h"
#include "relay/main/go_duration.h"
#include "relay/main/key_file.h"
#include "relay/main/listen_address.h"
#include "relay/main/mesh_key_file.h"

using namespace derp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)main::parse_go_duration(text);
  try {
    (void)main::parse_listen_address(text);
  } catch (const std::runtime_error&) {
  }
  try {
    (void)mesh::parse_mesh_with(text, "derp1.example.com");
  } catch (const std::runtime_error&) {
  }
  try {
    (void)mesh::parse_mesh_with_file(text, "derp1.example.com");
  } catch (const std::runtime_error&) {
  }
  try {
    (void)main::parse_mesh_key(text, "fuzz");
  } catch (const std::runtime_error&) {
  }
  try {
    (void)main::parse_key_file_text(text, "fuzz.key");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
