// Process-wide malloc settings that suit TLS connections with SSL_MODE_RELEASE_BUFFERS.
#pragma once

#include <cstddef>

namespace derp::tls {

// OpenSSL frees a connection's record buffers (64 KiB read-ahead, ~17 KiB write) after every
// burst and allocates them again for the next one. With glibc's defaults the freed top of a
// thread's heap goes back to the kernel, so every burst page-faults in fresh zeroed pages:
// profiled at 100 TLS pairs, page faults, clear_page and malloc were ~5 % of derpd's CPU, and
// the setting below took 3.2-3.7 to 2.8 µs of server CPU per packet (tests/bench/README.md).
// Keeps up to 32 MiB of freed memory per heap, and allocations under 1 MiB out of mmap().
// Call once, early in main().
void tune_allocator_for_tls_buffers();

// The other side of that setting: after a burst (thousands of connections at once, an attack)
// the freed memory would stay with the process for ever. When more than `keep_bytes` lie free in
// the heaps, returns them to the kernel (malloc_trim) and says how much was free before; else
// does nothing and returns 0. Called every few seconds from the node's control thread, so a node
// under steady load keeps its TLS buffers and one after a burst shrinks back.
std::size_t give_back_freed_memory(std::size_t keep_bytes);

}  // namespace derp::tls
