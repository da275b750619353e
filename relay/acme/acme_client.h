// One ACME v2 conversation with a CA (RFC 8555): account, order, one challenge per name,
// finalisation with a fresh key, download. The protocol steps it takes are the pure functions of
// jws.h and messages.h; this adds the HTTPS requests, nonces, polling and the challenge answers
// (ChallengeBook) while the CA validates. Runs as coroutines on the caller's executor.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "relay/acme/challenge_book.h"
#include "relay/acme/messages.h"
#include "relay/tls/openssl_ptr.h"

namespace boost::asio::ssl {
class context;
}

namespace derp::client {
struct HttpAnswer;
}

namespace derp::acme {

enum class ChallengeChoice { kAuto, kTlsAlpn01, kHttp01 };

struct AcmeClientConfig {
  std::string directory_url;
  std::string email;  // "" : the account has no contact
  std::string eab_kid;
  std::vector<std::uint8_t> eab_key;               // empty: no External Account Binding
  std::shared_ptr<boost::asio::ssl::context> tls;  // verifies the CA's HTTPS API
  ChallengeChoice challenge = ChallengeChoice::kAuto;
  bool can_answer_http01 = false;      // a port-80 listener runs
  bool can_answer_tls_alpn01 = false;  // the TLS listener runs
  std::chrono::seconds request_timeout{30};
  std::chrono::seconds validation_timeout{120};  // per name, and for the order to be issued
};

struct Issued {
  std::string chain_pem;  // leaf first
  std::string key_pem;    // PKCS#8
};

struct IssueOutcome {
  std::optional<Issued> issued;
  std::string error;  // when not issued: what went wrong and what to do, for the log
  // The CA said when to come back (rate limits).
  std::optional<std::chrono::system_clock::time_point> retry_after;
};

class AcmeClient {
 public:
  // `log` receives each step as an event name and a line for operators.
  using Log = std::function<void(std::string_view event, const std::string& text)>;

  AcmeClient(boost::asio::any_io_executor ex, AcmeClientConfig config, tls::EvpPkeyPtr account_key,
             ChallengeBook& book, Log log);
  ~AcmeClient();

  // A certificate for `names` (DNS names and IP literals). Never throws; failures are outcomes.
  boost::asio::awaitable<IssueOutcome> issue(std::vector<std::string> names);

 private:
  struct Reply;
  boost::asio::awaitable<Reply> get(const std::string& url);
  // POST (a JWS of `payload`; "" is a POST-as-GET). The views must outlive the call (gcc 12
  // destroys temporaries passed to a co_awaited call twice: callers pass literals or locals).
  boost::asio::awaitable<Reply> post(const std::string& url, std::string_view payload,
                                     std::string_view during);
  boost::asio::awaitable<void> ensure_directory();
  boost::asio::awaitable<void> ensure_account();
  boost::asio::awaitable<void> authorize(const std::string& authz_url);
  boost::asio::awaitable<Order> poll_order(const std::string& order_url,
                                           std::string_view leaving_status);
  boost::asio::awaitable<void> pause(std::chrono::milliseconds how_long);
  boost::asio::awaitable<Issued> run_order(std::vector<std::string> names);

  boost::asio::any_io_executor ex_;
  AcmeClientConfig config_;
  tls::EvpPkeyPtr account_key_;
  std::string thumbprint_;
  ChallengeBook& book_;
  Log log_;
  std::optional<Directory> directory_;
  std::string account_url_;
  std::string nonce_;
};

}  // namespace derp::acme
