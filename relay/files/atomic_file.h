// Writing a file that holds a secret or a certificate: readers see the old file or the new one,
// never a part of either, and nobody else's file can be written through it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string_view>

namespace derp::files {

// Writes `data` to `path` with `mode` (umask does not apply), through a temporary created next to
// it with a random name, O_EXCL and no symlink following, then fsync and rename. A symlink or file
// planted at a predictable temporary name cannot redirect the write (derpd once wrote its private
// key through `<path>.tmp.<pid>` into whatever a symlink there pointed at). A symlink at `path`
// itself is replaced, not followed. Throws std::runtime_error "cannot write PATH (STEP): REASON".
void write_file_atomically(const std::filesystem::path& path, std::string_view data, mode_t mode);

}  // namespace derp::files
