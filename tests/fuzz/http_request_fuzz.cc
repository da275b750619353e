// Arbitrary bytes as an HTTP request to the front: Beast parses them with the limits derpd uses,
// then the router decides. Neither may crash, and every parsed request gets a decision.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>

#include "relay/http/routes.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
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
  return 0;
}
