#include "relay/tls/allocator_tuning.h"

#include <malloc.h>

namespace derp::tls {

void tune_allocator_for_tls_buffers() {
  // Fixing either threshold also stops glibc from adjusting them dynamically.
  mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
}

std::size_t give_back_freed_memory(std::size_t keep_bytes) {
  const struct mallinfo2 info = mallinfo2();
  if (info.fordblks <= keep_bytes) return 0;
  malloc_trim(0);
  return info.fordblks;
}

}  // namespace derp::tls
