// The process's open-file limit: raised to the hard limit at start (as Go does for derper), since
// every client connection is a descriptor and distributions default the soft limit to 1,024.
#pragma once

#include <cstdint>

namespace derp::main {

// Raises RLIMIT_NOFILE's soft limit to its hard limit and returns the soft limit now in force
// (0 when it cannot be read: then descriptors are not budgeted).
std::uint64_t raise_descriptor_limit();
// The soft RLIMIT_NOFILE now (0 when unlimited or unreadable).
std::uint64_t current_descriptor_limit();

}  // namespace derp::main
