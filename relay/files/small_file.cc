#include "relay/files/small_file.h"

#include <fstream>
#include <iterator>

namespace derp::files {

SmallFile read_small_file(const std::filesystem::path& path, std::size_t max_bytes) {
  SmallFile f;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec == std::errc::no_such_file_or_directory) {
    f.missing = true;
    f.error = path.string() + ": no such file";
    return f;
  }
  if (!ec && size > max_bytes) {
    f.error = path.string() + ": larger than " + std::to_string(max_bytes >> 10) + " KiB";
    return f;
  }
  std::ifstream in(path, std::ios::binary);
  if (ec || !in) {
    f.error = path.string() + ": cannot be read" + (ec ? " (" + ec.message() + ")" : std::string());
    return f;
  }
  f.text.emplace((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return f;
}

}  // namespace derp::files
