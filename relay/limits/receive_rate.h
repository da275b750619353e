// A per-client receive limit (protocol §4.7) and the token bucket that enforces it. Pure: the
// caller supplies the time, and the bucket only says how long to stop reading.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

namespace derp::limits {

// The largest amount one frame takes from the bucket: a 64 KiB packet and its 32-byte key. The
// burst is never below it, so every frame can pass eventually.
inline constexpr std::uint64_t kMinReceiveBurst = 65536 + 32;

struct ReceiveRate {
  std::uint64_t bytes_per_second = 0;  // 0: not limited
  std::uint64_t burst_bytes = 0;       // raised to kMinReceiveBurst

  bool limited() const { return bytes_per_second > 0; }
  std::uint64_t effective_burst() const { return std::max(burst_bytes, kMinReceiveBurst); }
  friend bool operator==(const ReceiveRate&, const ReceiveRate&) = default;
};

// Unlike the reference, which waits before each frame until its tokens are there, the session
// takes the tokens of every frame in a read and then stops reading until the debt is paid: one
// clock read and one check per read instead of per frame. The long-run rate is the same; the
// overshoot is at most one read (16 KiB) plus one frame.
class ReceiveBucket {
 public:
  using Clock = std::chrono::steady_clock;

  ReceiveBucket(ReceiveRate rate, Clock::time_point now)
      : per_ns_(static_cast<double>(rate.bytes_per_second) / 1e9),
        burst_(static_cast<double>(rate.effective_burst())),
        tokens_(burst_),
        refilled_(now) {}

  // Called at the start of each read, before its frames take their share.
  void refill(Clock::time_point now) {
    if (now <= refilled_) return;
    const auto elapsed = std::chrono::duration<double, std::nano>(now - refilled_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * per_ns_);
    refilled_ = now;
  }
  void take(std::uint64_t frame_length) {
    tokens_ -= static_cast<double>(std::min(frame_length, kMinReceiveBurst));
  }
  // How long to stop reading until what was taken is paid for; zero when nothing is owed.
  std::chrono::nanoseconds owed_wait() const {
    if (tokens_ >= 0) return std::chrono::nanoseconds(0);
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::ceil(-tokens_ / per_ns_)));
  }

 private:
  double per_ns_;  // tokens (bytes) per nanosecond
  double burst_;
  double tokens_;
  Clock::time_point refilled_;
};

}  // namespace derp::limits
