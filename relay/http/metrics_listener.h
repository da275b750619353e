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

// What the listener serves. derpd serves /metrics only; `derpctl probe` adds /healthz.
struct MetricsPages {
  std::string flag = "--metrics-listen";  // the option that set the address, for errors
  std::string title = "derpd";            // what / says is served here
  std::function<std::string()> metrics;
  std::function<std::string()> healthz;  // /healthz; without it, 404
};

// Pure: what the listener answers to `method` `target`; a page's function is called only for
// its path.
MetricsResponse metrics_response(boost::beast::http::verb method, std::string_view target,
                                 const MetricsPages& pages);

class MetricsListener {
 public:
  static constexpr std::size_t kMaxConnections = 64;

  // Binds at once (throws std::runtime_error naming the address when it cannot) and serves on
  // `io` once it runs. The pages' functions run on `io`'s thread.
  MetricsListener(boost::asio::io_context& io, const std::string& host, std::uint16_t port,
                  MetricsPages pages);
  ~MetricsListener();
  std::uint16_t port() const;
  std::string describe() const;  // "http://host:port/metrics"
  void stop();

  struct State;  // shared with the open connections, which may outlive the listener

 private:
  std::shared_ptr<State> state_;
};

}  // namespace derp::http
