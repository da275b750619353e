// What a ClientSession needs from the connection that carries it (TCP, TLS or WebSocket).
#pragma once

#include <chrono>
#include <cstddef>

namespace derp::server {

// A transport's write batch stops growing past this (take_output's soft limit), so one slow
// client's batch stays bounded.
inline constexpr std::size_t kWriteBatchBytes = 64 * 1024;

class SessionTransport {
 public:
  virtual ~SessionTransport() = default;
  // The session has output; the transport collects it with take_output() soon, batching
  // everything queued until then into one write.
  virtual void wake_writer() = 0;
  // Close the connection; the transport later calls ClientSession::shutdown().
  virtual void close() = 0;
  // The session is leaving (ClientSession::leave): write what it still has, then end the output
  // (TLS close_notify, TCP FIN) while still reading, so the client reads everything up to a clean
  // end of stream and nothing is reset mid-write. The transport closes once the client closes its
  // side; the session's tick closes it if the client never does.
  virtual void end_output_after_flush() = 0;
  // The session's receive limit changed (ClientSession::apply_rate_policy): a read paused for the
  // old limit waits for the new one instead (ClientSession::input_pause()), at once if nothing
  // is owed any more.
  virtual void input_limit_changed() = 0;
  // True when a write has been in progress for longer than `timeout`.
  virtual bool write_stalled(std::chrono::steady_clock::time_point now,
                             std::chrono::milliseconds timeout) const = 0;
};

}  // namespace derp::server
