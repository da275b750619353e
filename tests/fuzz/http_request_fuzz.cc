// Arbitrary bytes as an HTTP request to the front, in the front's order: the header scanner
// enforces the header limits, Beast parses what passed with the limits derpd uses, then the router
// decides (the DERP front's, and --metrics-listen's). None may crash; the scanner must give the
// same answer however the bytes are split, and every parsed request gets a decision.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "relay/http/header_scan.h"
#include "relay/http/metrics_listener.h"
#include "relay/http/routes.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  derp::http::HeaderScanner whole;
  const auto scan = whole.scan(bytes);
  derp::http::HeaderScanner split;
  (void)split.scan(bytes.substr(0, size / 2));
  const auto split_scan = split.scan(bytes);
  if (split_scan.result != scan.result || split_scan.length != scan.length) std::abort();
  if (scan.result != derp::http::HeaderScanResult::kComplete) return 0;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;
  const auto& req = parser.get();
  for (bool tls : {false, true}) {
    for (bool port80 : {false, true}) {
      derp::http::FrontConfig cfg;
      cfg.tls = tls;
      cfg.port80 = port80;
      auto route = derp::http::route_request(req, cfg, {port80});
      route.response.prepare_payload();
    }
  }
  // The --metrics-listen listener answers the same parsed requests with its own table.
  const auto metrics = derp::http::metrics_response(
      req.method(), req.target(),
      derp::http::MetricsPages{.metrics = [] { return std::string("m 1\n"); },
                               .healthz = [] { return std::string("ok\n"); }});
  if (metrics.status != 200 && metrics.status != 404 && metrics.status != 405) std::abort();
  return 0;
}
