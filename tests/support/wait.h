// Waits for a condition that another process brings about (a mesh converging, a metric moving),
// checking it every 20 ms until a time limit. Returns whether it became true.
#pragma once

#include <chrono>
#include <thread>

namespace derp::testing {

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace derp::testing
