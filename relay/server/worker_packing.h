// How many workers carry the node's clients, and which of them a client's connection lives on.
//
// A packet between clients on two workers is handed over through the receiver's worker's inbox
// and, when that worker sleeps, wakes it; and the more workers share a light load, the fewer
// packets each finds per wake-up, so each packet costs more system calls. Measured with one write
// per packet (derp-load, tests/bench/README.md), two workers spent about twice the CPU per packet
// of one for a load one worker carries at half a core. So the node packs its clients onto as few
// workers as the load needs: one at first, one more whenever an active worker gets busy, one fewer
// once the whole node has been quiet for a while (docs/design-notes.md, "Worker packing").
//
// Pure: the caller measures each worker's busy share (its thread's CPU time over the interval).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace derp::server {

struct PackingThresholds {
  // An active worker this busy (share of one core over an interval) brings in one more.
  double grow_busy = 0.75;
  // Quiet when every worker together is under this share of a core per worker that would stay;
  // never more than 40 % of grow_busy, so that a load that just brought a worker in is not
  // quiet at once (which would let it go and bring it back every interval_held_after_growing).
  double shrink_busy = 0.30;
  // Intervals in a row the node must be quiet before a worker is let go.
  int quiet_intervals_to_shrink = 10;
  // Intervals after a worker was brought in during which none is let go: what the new spread
  // costs is measured first.
  int intervals_held_after_growing = 30;
};

class WorkerPacking {
 public:
  WorkerPacking(std::size_t workers, PackingThresholds thresholds)
      : workers_(workers == 0 ? 1 : workers), thresholds_(thresholds) {
    thresholds_.shrink_busy = std::min(thresholds_.shrink_busy, 0.4 * thresholds_.grow_busy);
  }

  std::size_t active() const { return active_; }

  // One interval's busy share of every worker (index order; inactive ones included, since idle
  // connections that never moved still live there). Returns the number of active workers now.
  std::size_t observe(std::span<const double> busy);

 private:
  std::size_t workers_;
  PackingThresholds thresholds_;
  std::size_t active_ = 1;
  int quiet_for_ = 0;
  int held_for_ = 0;
};

// The worker, of the first `active`, where connection `conn_id` lives: a jump consistent hash
// (Lamping and Veach, 2014), so bringing in a worker moves only the connections that go to it
// (about one in `active`), and letting one go moves only its own.
std::uint32_t home_worker(std::uint64_t conn_id, std::size_t active);

}  // namespace derp::server
