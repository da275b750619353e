// A DERP connection's pause of reading while its client is over its receive limit (protocol
// §4.7): nothing is read for a while, so the kernel's buffers fill and TCP slows the client down;
// writing to it goes on. Shared by the TCP/TLS and the WebSocket connection.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

namespace derp::http {

class InputPause {
 public:
  bool paused() const { return paused_; }

  // Stops reading for `pause`, then calls `resume(error_code)` (operation_aborted after cancel()).
  // A new pause replaces the one pending (a changed limit ends a long pause early), and only the
  // latest arming resumes: one re-armed after the old wait had already fired would otherwise
  // resume reading twice (two readers on one socket, which wedges a Beast stream). `resume` must
  // keep the owner of this object alive (the connection's shared_ptr).
  // After cancel() it does nothing: the cancelled wait's resume ends the connection.
  template <class Executor, class Resume>
  void start(const Executor& executor, std::chrono::nanoseconds pause, Resume resume) {
    if (cancelled_) return;
    // A connection that moved to another worker pauses on its new worker's clock.
    if (!timer_ || timer_->get_executor() != executor) {
      timer_ = std::make_unique<boost::asio::steady_timer>(executor);
    }
    paused_ = true;
    timer_->expires_after(pause);
    timer_->async_wait([this, arming = ++arming_,
                        resume = std::move(resume)](boost::system::error_code ec) mutable {
      if (arming != arming_) return;  // superseded by a later start()
      paused_ = false;
      resume(ec);
    });
  }

  // Ends a pending pause now, with operation_aborted, and for good (the connection is closing).
  void cancel() {
    cancelled_ = true;
    if (timer_) timer_->cancel();
  }

 private:
  std::unique_ptr<boost::asio::steady_timer> timer_;  // only once a limit held input back
  bool paused_ = false;
  bool cancelled_ = false;
  std::uint64_t arming_ = 0;  // which wait of timer_ is the current one
};

}  // namespace derp::http
