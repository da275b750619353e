#include "relay/tls/allocator_tuning.h"

#include <malloc.h>

namespace derp::tls {

void tune_allocator_for_tls_buffers() {
  // Fixing either threshold also stops glibc from adjusting them dynamically.
  mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
}

}  // namespace derp::tls
