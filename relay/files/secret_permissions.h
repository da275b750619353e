// Whether a file that holds a secret (server key, mesh key, admin token) can be read by anyone but
// its owner: such a file is the relay's identity or the key to its mesh or admin API.
#pragma once

#include <filesystem>
#include <string>

namespace derp::files {

// "" when only the owner can read `path` (or it cannot be examined: reading it reports that);
// otherwise what to tell the operator, e.g. "is readable by group or others (mode 644); chmod 600
// it". Follows symlinks: what matters is the file read.
std::string secret_file_exposure(const std::filesystem::path& path);

}  // namespace derp::files
