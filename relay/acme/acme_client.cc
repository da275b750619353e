#include "relay/acme/acme_client.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "relay/acme/advice.h"
#include "relay/acme/jws.h"
#include "relay/client/http_call.h"
#include "relay/tls/acme_crypto.h"
#include "relay/tls/cert_builder.h"
#include "relay/tls/pem_files.h"

namespace derp::acme {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// Ends the conversation: what to tell the operator, and when the CA wants us back, if it said.
struct AcmeFailure {
  explicit AcmeFailure(std::string why,
                       std::optional<std::chrono::system_clock::time_point> until = std::nullopt)
      : text(std::move(why)), retry_after(until) {}
  std::string text;
  std::optional<std::chrono::system_clock::time_point> retry_after;
};

// RFC 8555 §6.5: a badNonce answer is retried with the nonce it carries. A CA that keeps saying
// it is broken; pebble refuses 5 % of nonces by default (our test asks for 25 %).
constexpr int kNonceRetries = 10;
constexpr std::chrono::milliseconds kPollInterval{500};

template <typename T>
T parsed_or_fail(Parsed<T> parsed, std::string_view during) {
  if (!parsed.value) {
    throw AcmeFailure{"the CA's answer while " + std::string(during) +
                      " is not what ACME sends: " + parsed.error};
  }
  return std::move(*parsed.value);
}

// Runs `undo` however the validation ends: the answer leaves the book.
class PendingAnswer {
 public:
  explicit PendingAnswer(std::function<void()> undo) : undo_(std::move(undo)) {}
  ~PendingAnswer() { undo_(); }
  PendingAnswer(const PendingAnswer&) = delete;
  PendingAnswer& operator=(const PendingAnswer&) = delete;

 private:
  std::function<void()> undo_;
};

std::string names_text(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

struct AcmeClient::Reply {
  unsigned status = 0;
  std::string body;
  std::string location;
  std::string retry_after;
};

AcmeClient::AcmeClient(asio::any_io_executor ex, AcmeClientConfig config,
                       tls::EvpPkeyPtr account_key, ChallengeBook& book, Log log)
    : ex_(std::move(ex)),
      config_(std::move(config)),
      account_key_(std::move(account_key)),
      thumbprint_(jwk_thumbprint(tls::p256_public_point(account_key_.get()))),
      book_(book),
      log_(std::move(log)) {}

AcmeClient::~AcmeClient() = default;

asio::awaitable<void> AcmeClient::pause(std::chrono::milliseconds how_long) {
  asio::steady_timer timer(ex_);
  timer.expires_after(how_long);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<AcmeClient::Reply> AcmeClient::get(const std::string& url) {
  client::HttpCall call;
  call.timeout = config_.request_timeout;
  call.max_body = kMaxResponseBytes;
  client::HttpAnswer answer = co_await client::call_url(ex_, url, call, config_.tls);
  if (!answer.reached) throw AcmeFailure{"cannot reach the CA at " + url + ": " + answer.error};
  if (auto nonce = answer.header("Replay-Nonce"); !nonce.empty()) nonce_ = nonce;
  Reply reply{answer.status, std::move(answer.body), answer.header("Location"),
              answer.header("Retry-After")};
  co_return reply;
}

asio::awaitable<AcmeClient::Reply> AcmeClient::post(const std::string& url,
                                                    std::string_view payload,
                                                    std::string_view during) {
  for (int attempt = 0;; ++attempt) {
    if (nonce_.empty()) {
      Reply fresh = co_await get(directory_->new_nonce);
      if (nonce_.empty()) throw AcmeFailure{"the CA's newNonce answer carries no Replay-Nonce"};
    }
    client::HttpCall call;
    call.method = "POST";
    call.timeout = config_.request_timeout;
    call.max_body = kMaxResponseBytes;
    call.headers = {{"Content-Type", "application/jose+json"}};
    call.body = sign_request(account_key_.get(), account_url_, nonce_, url, payload);
    nonce_.clear();
    client::HttpAnswer answer = co_await client::call_url(ex_, url, call, config_.tls);
    if (!answer.reached) {
      throw AcmeFailure{"cannot reach the CA at " + url + " while " + std::string(during) + ": " +
                        answer.error};
    }
    nonce_ = answer.header("Replay-Nonce");
    Reply reply{answer.status, std::move(answer.body), answer.header("Location"),
                answer.header("Retry-After")};
    if (reply.status < 400) co_return reply;
    auto problem = parse_problem(reply.body);
    if (!problem.value) {
      throw AcmeFailure{std::string(during) + " failed: HTTP " + std::to_string(reply.status) +
                        " without a problem document"};
    }
    if (problem.value->short_type() == "badNonce" && attempt < kNonceRetries) {
      log_("acme_bad_nonce", "the CA refused a nonce while " + std::string(during) +
                                 "; retrying with the one it sent (RFC 8555 §6.5)");
      continue;
    }
    throw AcmeFailure{request_advice(*problem.value, during),
                      parse_retry_after(reply.retry_after, std::chrono::system_clock::now())};
  }
}

asio::awaitable<void> AcmeClient::ensure_directory() {
  if (directory_) co_return;
  Reply reply = co_await get(config_.directory_url);
  if (reply.status != 200) {
    throw AcmeFailure{"the ACME directory " + config_.directory_url + " answered HTTP " +
                      std::to_string(reply.status) + "; check --acme-directory-url"};
  }
  directory_ = parsed_or_fail(parse_directory(reply.body), "reading the directory");
}

asio::awaitable<void> AcmeClient::ensure_account() {
  if (!account_url_.empty()) co_return;
  if (directory_->external_account_required && config_.eab_key.empty()) {
    throw AcmeFailure{"the CA at " + config_.directory_url +
                      " requires External Account Binding: set --acme-eab-kid and "
                      "--acme-eab-key"};
  }
  nlohmann::json payload{{"termsOfServiceAgreed", true}};
  if (!config_.email.empty()) payload["contact"] = {"mailto:" + config_.email};
  if (!config_.eab_key.empty()) {
    payload["externalAccountBinding"] = nlohmann::json::parse(
        external_account_binding(tls::p256_public_point(account_key_.get()), config_.eab_kid,
                                 config_.eab_key, directory_->new_account));
  }
  const std::string body = payload.dump();
  Reply reply = co_await post(directory_->new_account, body, "creating the account");
  parsed_or_fail(parse_account(reply.body), "creating the account");
  if (reply.location.empty()) throw AcmeFailure{"the CA's newAccount answer has no Location"};
  account_url_ = reply.location;
  log_("acme_account", "ACME account " + account_url_ + (reply.status == 201 ? " created" : ""));
}

asio::awaitable<void> AcmeClient::authorize(const std::string& authz_url) {
  Reply reply = co_await post(authz_url, "", "reading an authorization");
  Authorization authz = parsed_or_fail(parse_authorization(reply.body), "reading an authorization");
  const std::string id = authz.identifier.value;
  if (authz.status == "valid") {
    log_("acme_authorization", id + " is already authorized at the CA");
    co_return;
  }
  if (authz.status != "pending") {
    throw AcmeFailure{"the CA's authorization for " + id + " is " + authz.status};
  }

  const Challenge* http01 = config_.can_answer_http01 ? authz.challenge("http-01") : nullptr;
  const Challenge* alpn01 =
      config_.can_answer_tls_alpn01 ? authz.challenge("tls-alpn-01") : nullptr;
  const Challenge* chosen = nullptr;
  switch (config_.challenge) {
    case ChallengeChoice::kHttp01:
      chosen = http01;
      break;
    case ChallengeChoice::kTlsAlpn01:
      chosen = alpn01;
      break;
    case ChallengeChoice::kAuto:
      chosen = alpn01 ? alpn01 : http01;
      break;
  }
  if (chosen == nullptr || !valid_token(chosen->token)) {
    throw AcmeFailure{
        "no challenge this node can answer for " + id +
        " (it answers TLS-ALPN-01 on its TLS listener and HTTP-01 on its port-80 listener; "
        "check --acme-challenge and --http-port)"};
  }
  const std::string key_auth = key_authorization(chosen->token, thumbprint_);
  std::unique_ptr<PendingAnswer> pending;
  if (chosen->type == "http-01") {
    book_.add_http01(chosen->token, key_auth);
    pending = std::make_unique<PendingAnswer>(
        [this, token = chosen->token] { book_.remove_http01(token); });
  } else {
    book_.add_tls_alpn01(id, tls::make_tls_alpn01_cert(id, tls_alpn01_digest(key_auth)));
    pending = std::make_unique<PendingAnswer>([this, id] { book_.remove_tls_alpn01(id); });
  }
  log_("acme_challenge", "answering " + chosen->type + " for " + id);
  const std::string challenge_type = chosen->type;
  const std::string challenge_url = chosen->url;
  const std::string starting = "starting the " + challenge_type + " challenge";
  Reply started = co_await post(challenge_url, "{}", starting);

  const auto deadline = Clock::now() + config_.validation_timeout;
  for (;;) {
    co_await pause(kPollInterval);
    reply = co_await post(authz_url, "", "waiting for the validation");
    authz = parsed_or_fail(parse_authorization(reply.body), "waiting for the validation");
    if (authz.status == "valid") {
      log_("acme_valid", id + " validated over " + challenge_type);
      co_return;
    }
    if (authz.status != "pending") {
      const Challenge* c = authz.challenge(challenge_type);
      Problem problem = c && c->error ? *c->error : Problem{};
      if (problem.type.empty()) problem.detail = "authorization " + authz.status;
      throw AcmeFailure{challenge_advice(problem, id, challenge_type)};
    }
    if (Clock::now() > deadline) {
      throw AcmeFailure{"the CA did not validate " + id + " over " + challenge_type + " within " +
                        std::to_string(config_.validation_timeout.count()) + " s"};
    }
  }
}

asio::awaitable<Order> AcmeClient::poll_order(const std::string& order_url,
                                              std::string_view leaving_status) {
  const auto deadline = Clock::now() + config_.validation_timeout;
  for (;;) {
    Reply reply = co_await post(order_url, "", "waiting for the order");
    Order order = parsed_or_fail(parse_order(reply.body), "waiting for the order");
    if (order.status != leaving_status) co_return order;
    if (Clock::now() > deadline) {
      throw AcmeFailure{"the CA's order stayed " + order.status + " for " +
                        std::to_string(config_.validation_timeout.count()) + " s"};
    }
    co_await pause(kPollInterval);
  }
}

asio::awaitable<Issued> AcmeClient::run_order(std::vector<std::string> names) {
  co_await ensure_directory();
  co_await ensure_account();
  const std::string order_payload = new_order_payload(names);
  Reply reply = co_await post(directory_->new_order, order_payload, "creating the order");
  Order order = parsed_or_fail(parse_order(reply.body), "creating the order");
  const std::string order_url = reply.location;
  if (order_url.empty()) throw AcmeFailure{"the CA's newOrder answer has no Location"};
  log_("acme_order", "order created for " + names_text(names) + " at " + order_url);

  for (const auto& authz_url : order.authorizations) co_await authorize(authz_url);
  if (order.status == "pending") order = co_await poll_order(order_url, "pending");
  if (order.status != "ready") {
    throw AcmeFailure{"the order is " + order.status + " instead of ready" +
                      (order.error ? ": " + order.error->text() : std::string())};
  }

  tls::EvpPkeyPtr key = tls::generate_p256_key();
  const std::string csr =
      nlohmann::json{{"csr", base64url(tls::make_csr_der(key.get(), names))}}.dump();
  reply = co_await post(order.finalize, csr, "finalizing the order");
  order = parsed_or_fail(parse_order(reply.body), "finalizing the order");
  // After finalize the order goes from ready (the CA may not have started yet) to processing
  // to valid: wait through both.
  while (order.status == "processing" || order.status == "ready") {
    const std::string leaving = order.status;
    order = co_await poll_order(order_url, leaving);
  }
  if (order.status != "valid" || order.certificate.empty()) {
    throw AcmeFailure{"the CA did not issue: the order is " + order.status +
                      (order.error ? " (" + order.error->text() + ")" : std::string())};
  }
  reply = co_await post(order.certificate, "", "downloading the certificate");
  // The chain must read back as PEM certificates; CertStore checks the rest before serving it.
  tls::read_cert_chain_pem(reply.body, "the certificate the CA sent");
  Issued issued{std::move(reply.body), tls::private_key_to_pem(key.get())};
  co_return issued;
}

asio::awaitable<IssueOutcome> AcmeClient::issue(std::vector<std::string> names) {
  IssueOutcome outcome;
  try {
    Issued issued = co_await run_order(std::move(names));
    outcome.issued = std::move(issued);
  } catch (const AcmeFailure& failure) {
    outcome.error = failure.text;
    outcome.retry_after = failure.retry_after;
  } catch (const std::exception& e) {
    outcome.error = e.what();
  }
  if (!outcome.issued) nonce_.clear();
  co_return outcome;
}

}  // namespace derp::acme
