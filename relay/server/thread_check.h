// DERP_ASSERT: checks of the core's thread rules (a session and its worker's state are touched on
// that worker's thread only) and other invariants. On in debug and sanitizer builds (DERP_CHECKS),
// where a violation aborts with its place; compiled out of release builds, which run the same
// code paths that the checked builds test.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace derp::server {

[[noreturn]] inline void derp_assert_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: DERP_ASSERT(%s) failed\n", file, line, what);
  std::abort();
}

}  // namespace derp::server

#if defined(DERP_CHECKS)
#define DERP_ASSERT(cond) \
  ((cond) ? static_cast<void>(0) : ::derp::server::derp_assert_failed(#cond, __FILE__, __LINE__))
#else
#define DERP_ASSERT(cond) static_cast<void>(0)
#endif
