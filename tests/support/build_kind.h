// Whether this test (and the derpd it starts, built in the same tree) runs under a sanitizer:
// several times slower, and every allocation carries redzones, so time and memory bounds are
// looser there.
#pragma once

namespace derp::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif
#else
inline constexpr bool kSanitizerBuild = false;
#endif

}  // namespace derp::testing
