// Reading a small configuration file that an operator edits by hand (--admit-file,
// --rate-config): its size is checked before it is read, so a wrong path (a log, a device) fails
// with a clear message instead of filling memory.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace derp::files {

struct SmallFile {
  std::optional<std::string> text;  // the contents, when read
  bool missing = false;             // no such file (text empty, error set)
  std::string error;                // "PATH: why", when text is empty
};
SmallFile read_small_file(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace derp::files
