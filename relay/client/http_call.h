// One HTTP request with a deadline, as the admission checks make them: to a URL (http or https,
// verified against the system trust store and SSL_CERT_FILE) or to a unix socket (tailscaled's
// LocalAPI). Coroutines on the caller's executor; nothing blocks a thread.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace derp::client {

struct HttpCall {
  std::string method = "GET";  // GET or POST
  std::string target = "/";    // path and query
  std::string host_header;     // filled from the URL by call_url
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{5000};  // the whole exchange
  std::size_t max_body = 4096;
};

struct HttpAnswer {
  // False when no answer came at all (refused, unresolvable, timed out before the status line):
  // the case --verify-client-url-fail-open is about.
  bool reached = false;
  unsigned status = 0;
  std::string body;
  bool body_too_large = false;  // more than max_body: `body` is incomplete
  std::string error;            // what went wrong, in operator words
  std::vector<std::pair<std::string, std::string>> headers;  // as received, once reached

  // The first header of that name (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

// `url` is http://host[:port][/path] or https://…; an invalid URL is an answer that was not
// reached, with the reason in `error`.
boost::asio::awaitable<HttpAnswer> call_url(boost::asio::any_io_executor ex, std::string url,
                                            HttpCall call,
                                            std::shared_ptr<boost::asio::ssl::context> tls);

boost::asio::awaitable<HttpAnswer> call_unix_socket(boost::asio::any_io_executor ex,
                                                    std::string socket_path, HttpCall call);

// Checks a URL for --verify-client-url at start-up: "" when usable, else why not.
std::string check_url(const std::string& url);

}  // namespace derp::client
