// The STUN UDP server (protocol §7): one SO_REUSEPORT socket per worker io_context, each drained
// with recvmmsg/sendmmsg so that one wake-up answers up to a batch of requests.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "stun/stun_metrics.h"

namespace derp::stun {

struct StunConfig {
  // IP literal to bind ("127.0.0.1", "::1", "[::1]"); "" = dual-stack wildcard [::] with
  // IPV6_V6ONLY=0. IPv6 sockets are always dual-stack, so "::ffff:127.0.0.1" works too.
  std::string host;
  std::uint16_t port = 3478;  // 0 = ephemeral; see StunServer::local_port()
  // Answer plain RFC 5389/8489 Binding requests (our addition; the reference drops them).
  bool answer_generic = true;
  // A UDP socket the service manager passed in (socket activation), used instead of binding
  // host:port; the server owns it from start(). -1: bind.
  int inherited_fd = -1;
};

class StunServer {
 public:
  // The io_contexts must outlive the server; their threads run the receive loops. The same
  // io_context may appear more than once (one socket each).
  StunServer(std::vector<boost::asio::io_context*> workers, StunConfig config);
  ~StunServer();
  StunServer(const StunServer&) = delete;
  StunServer& operator=(const StunServer&) = delete;

  // Binds one socket per worker and starts receiving. Throws std::system_error, e.g.
  // "stun: cannot bind udp [::]:3478: Address already in use", or std::invalid_argument for a
  // host that is not an IP literal. Call once.
  void start();
  // Closes every socket on its own worker and waits for that to happen. Call from outside the
  // workers while they run, from a worker thread, or after the worker threads have been joined.
  // Idempotent; the destructor calls it.
  void stop();

  // The drain switch: when false, valid requests are counted as dropped{reason="draining"} and
  // not answered. Takes effect for the next datagram read on any worker.
  void set_replies_enabled(bool enabled);
  bool replies_enabled() const;

  // The bound port (useful with port 0). 0 before start().
  std::uint16_t local_port() const;
  const StunConfig& config() const { return config_; }

  StunCounters counters() const;
  std::string prometheus_text() const;
  nlohmann::json expvar() const;

  class Worker;  // one socket and its receive loop; defined in stun_server.cc

 private:
  std::vector<boost::asio::io_context*> contexts_;
  StunConfig config_;
  std::shared_ptr<std::atomic<bool>> replies_enabled_;
  std::vector<std::shared_ptr<Worker>> workers_;
  std::uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace derp::stun
