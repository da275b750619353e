// What one probe run shares with its deadline: the step it is at (for "timed out while …") and
// how to stop what it waits on. Every wait of a probe is on something registered here, so a
// probe past its deadline ends at once instead of hanging the round.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace derpctl::probe {

class ProbeContext {
 public:
  explicit ProbeContext(std::chrono::steady_clock::time_point deadline) : deadline_(deadline) {}

  void step(std::string what) { step_ = std::move(what); }
  const std::string& step() const { return step_; }
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }
  std::chrono::milliseconds remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_ - std::chrono::steady_clock::now());
    return std::max(left, std::chrono::milliseconds(1));
  }

  // `thing` is closed (its close() called) when the deadline passes; held weakly, so a thing
  // already gone is skipped. Registered after the deadline (a step that could not be interrupted
  // ran past it), it is closed at once.
  template <typename T>
  void close_on_timeout(const std::shared_ptr<T>& thing) {
    add([weak = std::weak_ptr<T>(thing)] {
      if (auto t = weak.lock()) t->close();
    });
  }
  template <typename T>
  void cancel_on_timeout(const std::shared_ptr<T>& thing) {
    add([weak = std::weak_ptr<T>(thing)] {
      if (auto t = weak.lock()) t->cancel();
    });
  }

  // Called by the runner; a probe only reads `timed_out()`.
  void expire() {
    timed_out_ = true;
    auto closers = std::move(closers_);
    for (auto& close : closers) close();
  }
  bool timed_out() const { return timed_out_; }

 private:
  void add(std::function<void()> closer) {
    if (timed_out_) return closer();
    closers_.push_back(std::move(closer));
  }

  std::chrono::steady_clock::time_point deadline_;
  std::string step_ = "starting";
  std::vector<std::function<void()>> closers_;
  bool timed_out_ = false;
};

}  // namespace derpctl::probe
