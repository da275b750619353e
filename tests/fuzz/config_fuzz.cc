// Everything an operator types or writes for derpd: flags (split on NUL into argv), durations,
// listen addresses, --mesh-with lists, mesh key and server key files. Bad input must produce an
// error, never a crash.
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "mesh/mesh_peers.h"
#include "relay/main/go_duration.h"
#include "relay/main/key_file.h"
#include "relay/main/mesh_key_file.h"
#include "relay/main/options.h"

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
    (void)main::parse_mesh_key(text, "fuzz");
  } catch (const std::runtime_error&) {
  }
  try {
    (void)main::parse_key_file_text(text, "fuzz.key");
  } catch (const std::runtime_error&) {
  }
  // Flags: NUL-separated words. Only parse when no word asks for help or the version, which print
  // and would flood the fuzzer's output.
  std::vector<std::string> words{"derpd"};
  std::string word;
  for (char c : text) {
    if (c == '\0') {
      words.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  words.push_back(word);
  (void)main::normalize_go_flags(words);
  bool quiet = true;
  for (const auto& w : words) {
    if (w.find("-h") != std::string::npos || w.find("version") != std::string::npos ||
        w.find("help") != std::string::npos) {
      quiet = false;
    }
  }
  if (quiet && words.size() < 64) {
    std::vector<const char*> argv;
    for (const auto& w : words) argv.push_back(w.c_str());
    // The flag table is built once (building it was most of an input's time), and CLI11's error
    // messages are discarded instead of written for every input.
    static main::CommandLineParser parser;
    static const bool quiet_errors = [] {
      std::cerr.rdbuf(nullptr);
      return true;
    }();
    (void)quiet_errors;
    (void)parser.parse(static_cast<int>(argv.size()), argv.data());
  }
  return 0;
}
