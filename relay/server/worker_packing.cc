#include "relay/server/worker_packing.h"

#include <algorithm>

namespace derp::server {

std::size_t WorkerPacking::observe(std::span<const double> busy) {
  const std::size_t n = std::min(busy.size(), workers_);
  double busiest_active = 0;
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    total += busy[i];
    if (i < active_) busiest_active = std::max(busiest_active, busy[i]);
  }
  if (held_for_ > 0) --held_for_;
  if (busiest_active >= thresholds_.grow_busy && active_ < workers_) {
    ++active_;
    quiet_for_ = 0;
    held_for_ = thresholds_.intervals_held_after_growing;
    return active_;
  }
  const bool quiet =
      active_ > 1 && total < thresholds_.shrink_busy * static_cast<double>(active_ - 1);
  quiet_for_ = quiet ? quiet_for_ + 1 : 0;
  if (quiet && held_for_ == 0 && quiet_for_ >= thresholds_.quiet_intervals_to_shrink) {
    --active_;
    quiet_for_ = 0;
  }
  return active_;
}

std::uint32_t home_worker(std::uint64_t conn_id, std::size_t active) {
  if (active <= 1) return 0;
  // Connection ids count up from 1, and neighbours are often the two ends of a pair: mix them
  // fully first (splitmix64's finaliser). A plain multiplication leaves a pattern in the top bits
  // that alternates with the id's parity, which put every sender on one worker and every receiver
  // on the other.
  std::uint64_t key = conn_id;
  key = (key ^ (key >> 30)) * 0xBF58476D1CE4E5B9ull;
  key = (key ^ (key >> 27)) * 0x94D049BB133111EBull;
  key ^= key >> 31;
  std::int64_t bucket = -1;
  std::int64_t next = 0;
  const auto buckets = static_cast<std::int64_t>(active);
  while (next < buckets) {
    bucket = next;
    key = key * 2862933555777941757ull + 1;
    next = static_cast<std::int64_t>(
        static_cast<double>(bucket + 1) *
        (static_cast<double>(1ll << 31) / static_cast<double>((key >> 33) + 1)));
  }
  return static_cast<std::uint32_t>(bucket);
}

}  // namespace derp::server
