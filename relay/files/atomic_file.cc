#include "relay/files/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace derp::files {

void write_file_atomically(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  std::string tmp = path.string() + ".tmp.XXXXXX";
  bool created = false;
  auto fail = [&](std::string_view step) {
    const int e = errno;
    if (created) ::unlink(tmp.c_str());
    return std::runtime_error("cannot write " + path.string() + " (" + std::string(step) +
                              "): " + std::strerror(e));
  };
  // mkostemp opens with O_CREAT|O_EXCL: an existing name, a symlink included, is never opened.
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) throw fail("create");
  created = true;
  if (::fchmod(fd, mode) != 0) {
    ::close(fd);
    throw fail("chmod");
  }
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw fail("write");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  const int synced = ::fsync(fd);
  if (::close(fd) != 0 || synced != 0) throw fail("sync");
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw fail("rename");
}

}  // namespace derp::files
