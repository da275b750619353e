// Reads the captured real-client sessions of tests/testdata/real-client-v1.36.2.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/hex.h"
#include "tests/support/text_file.h"

namespace derp::testing {

struct CaptureEvent {
  bool client_to_server = false;
  double t_ms = 0;
  std::vector<std::uint8_t> bytes;
};

inline std::filesystem::path testdata_dir() {
  const char* env = std::getenv("DERP_TESTDATA");
  if (!env || !*env) throw std::runtime_error("DERP_TESTDATA is not set (run the test via ctest)");
  return std::filesystem::path(env) / "real-client-v1.36.2";
}

inline std::vector<CaptureEvent> load_capture(const std::string& relative) {
  std::ifstream in(testdata_dir() / relative);
  if (!in) throw std::runtime_error("cannot open capture " + relative);
  auto doc = nlohmann::json::parse(in);
  std::vector<CaptureEvent> out;
  for (const auto& e : doc.at("events")) {
    out.push_back({e.at("dir") == "c2s", e.at("t_ms").get<double>(),
                   from_hex(e.at("hex").get<std::string>())});
  }
  return out;
}

inline std::vector<std::uint8_t> concat(const std::vector<CaptureEvent>& events, bool c2s) {
  std::vector<std::uint8_t> out;
  for (const auto& e : events) {
    if (e.client_to_server == c2s) out.insert(out.end(), e.bytes.begin(), e.bytes.end());
  }
  return out;
}

}  // namespace derp::testing
