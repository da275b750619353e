// --metrics-listen: Prometheus's scrape endpoint on an address of its own. /debug/varz answers
// only loopback and Tailscale addresses (protocol §1.7), which a monitoring host usually is not;
// this listener serves the same text at /metrics to whoever can reach its address, and nothing
// else: no DERP, no debug pages. Bind it to an address only the monitoring network reaches.
//
// Small on purpose: plain HTTP/1.1 with keep-alive (Prometheus reuses its connection), requests
// of at most 8 KiB of header and no body, 10 s per request, at most 64 connections at once.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <string>

namespace derp::http {

struct MetricsResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  bool allow_header = false;  // 405: say which methods are allowed
};

// Pure: what the listener answers to `method` `target`; `metrics` is called only for /metrics.
MetricsResponse metrics_response(boost::beast::http::verb method, std::string_view target,
                                 const std::function<std::string()>& metrics);

class MetricsListener {
 public:
  static constexpr std::size_t kMaxConnections = 64;

  // Binds at once (throws std::runtime_error naming the address when it cannot) and serves on
  // `io` once it runs. `metrics` runs on `io`'s thread.
  MetricsListener(boost::asio::io_context& io, const std::string& host, std::uint16_t port,
                  std::function<std::string()> metrics);
  ~MetricsListener();
  std::uint16_t port() const;
  std::string describe() const;  // "http://host:port/metrics"
  void stop();

  struct State;  // shared with the open connections, which may outlive the listener

 private:
  std::shared_ptr<State> state_;
};

}  // namespace derp::http
