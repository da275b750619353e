// Reading a small text file whole, and counting what it says, for tests that check logs and
// files written by the processes under test.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

namespace derp::testing {

// The whole file, "" when it cannot be read.
inline std::string read_text_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// How often `what` occurs in `text` (occurrences may overlap).
inline std::size_t count_occurrences(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace derp::testing
