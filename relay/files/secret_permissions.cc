#include "relay/files/secret_permissions.h"

#include <sys/stat.h>

#include <cstdio>

namespace derp::files {

std::string secret_file_exposure(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & 077) == 0) return {};
  char mode[8];
  std::snprintf(mode, sizeof mode, "%o", static_cast<unsigned>(st.st_mode & 0777));
  return std::string("is readable by group or others (mode ") + mode + "); chmod 600 it";
}

}  // namespace derp::files
