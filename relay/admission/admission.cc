#include "relay/admission/admission.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <stdexcept>

#include "relay/admission/controller_protocol.h"
#include "relay/client/http_call.h"
#include "relay/logging/event.h"
#include "relay/tls/client_context.h"

namespace derp::admission {

namespace asio = boost::asio;
using client::call_unix_socket;
using client::call_url;
using client::check_url;
using client::HttpCall;

std::string_view to_string(DecisionSource s) {
  switch (s) {
    case DecisionSource::kTailscaled:
      return "tailscaled";
    case DecisionSource::kUrl:
      return "url";
    case DecisionSource::kCache:
      return "cache";
    case DecisionSource::kList:
      return "list";
    case DecisionSource::kMesh:
      return "mesh";
  }
  return "?";
}

std::string_view to_string(DecisionResult r) {
  switch (r) {
    case DecisionResult::kAdmitted:
      return "admitted";
    case DecisionResult::kRejected:
      return "rejected";
    case DecisionResult::kAdmittedFailOpen:
      return "admitted_fail_open";
  }
  return "?";
}

namespace {

// The header tailscaled's LocalAPI requires; the value says which answer format the caller
// understands, and whois's has not changed.
constexpr const char* kCapabilityVersion = "56";

struct Outcome {
  bool admit = false;
  std::string reason;
  // An answer of a check; not a fail-open admit or a failed call, which say nothing about the
  // client.
  bool cacheable = true;
};

asio::awaitable<Outcome> ask_tailscaled(asio::any_io_executor ex, const AdmissionConfig& config,
                                        const protocol::NodePublic& key) {
  HttpCall call;
  call.method = "GET";
  call.target = whois_target(key);
  call.host_header = "local-tailscaled.sock";
  call.headers = {{"Tailscale-Cap", kCapabilityVersion}};
  call.timeout = config.timeout;
  call.max_body = 64 * 1024;  // whois describes the node and its owner; only the status counts
  auto answer = co_await call_unix_socket(ex, config.tailscaled_socket, call);
  Outcome out;
  if (!answer.reached) {
    out.reason = "tailscaled did not answer: " + answer.error;
    out.cacheable = false;
    if (answer.error.find("invalid 'addr' parameter") != std::string::npos) {
      out.reason = whois_verdict(0, answer.error).reason;
    }
    co_return out;
  }
  auto verdict = whois_verdict(answer.status, answer.body);
  out.admit = verdict.admit;
  out.reason = verdict.reason;
  co_return out;
}

struct UrlOutcome {
  Outcome outcome;
  bool unreachable = false;
};

asio::awaitable<UrlOutcome> ask_controller(asio::any_io_executor ex, const AdmissionConfig& config,
                                           std::shared_ptr<asio::ssl::context> tls,
                                           const protocol::NodePublic& key,
                                           const std::string& source_ip) {
  HttpCall call;
  call.method = "POST";
  call.body = controller_request_body(key, source_ip);
  call.timeout = config.timeout;
  call.max_body = kMaxControllerBody;
  auto answer = co_await call_url(ex, config.verify_url, call, tls);
  UrlOutcome out;
  if (!answer.reached) {
    out.unreachable = true;
    out.outcome.reason = "admission controller unreachable: " + answer.error;
    out.outcome.cacheable = false;
    co_return out;
  }
  if (answer.body_too_large) {
    out.outcome.reason = "controller's answer is over 4 KiB";
    co_return out;
  }
  auto verdict = controller_verdict(answer.status, answer.body);
  out.outcome.admit = verdict.admit;
  out.outcome.reason = verdict.reason;
  co_return out;
}

}  // namespace

std::string prometheus_text(const AdmissionCounts& c) {
  std::string out =
      "# HELP derp_admission_total Admission decisions for clients, by the check that decided.\n"
      "# TYPE derp_admission_total counter\n";
  for (std::size_t s = 0; s < kSourceCount; ++s) {
    for (std::size_t r = 0; r < kResultCount; ++r) {
      out += "derp_admission_total{source=\"" +
             std::string(to_string(static_cast<DecisionSource>(s))) + "\",result=\"" +
             std::string(to_string(static_cast<DecisionResult>(r))) + "\"} " +
             std::to_string(c.decisions[s][r]) + "\n";
    }
  }
  out +=
      "# HELP derp_admission_waiting Clients waiting for an admission answer now.\n"
      "# TYPE derp_admission_waiting gauge\n"
      "derp_admission_waiting " +
      std::to_string(c.waiting) + "\n";
  return out;
}

struct Admission::Check {
  protocol::NodePublic key;
  std::string source_ip;  // as the controller and the log get it; "" when unknown
  std::string cache_id;   // key and address
  Done done;
};

Admission::Admission(AdmissionConfig config)
    : config_(std::move(config)), work_(asio::make_work_guard(io_)) {
  if (!config_.verify_url.empty()) {
    if (auto problem = check_url(config_.verify_url); !problem.empty()) {
      throw std::runtime_error("--verify-client-url: " + problem);
    }
    if (config_.verify_url.starts_with("https://")) tls_ = tls::make_client_context(true);
  }
  thread_ = std::thread([this] { io_.run(); });
}

Admission::~Admission() {
  stop();
}

void Admission::stop() {
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void Admission::count(DecisionSource s, DecisionResult r) {
  decisions_[static_cast<std::size_t>(s)][static_cast<std::size_t>(r)].fetch_add(
      1, std::memory_order_relaxed);
}

AdmissionCounts Admission::counts() const {
  AdmissionCounts c;
  for (std::size_t s = 0; s < kSourceCount; ++s) {
    for (std::size_t r = 0; r < kResultCount; ++r) {
      c.decisions[s][r] = decisions_[s][r].load(std::memory_order_relaxed);
    }
  }
  c.waiting = waiting_.load(std::memory_order_relaxed);
  return c;
}

std::vector<Refusal> Admission::recent_refusals() const {
  std::lock_guard lock(recent_mu_);
  return {recent_.begin(), recent_.end()};
}

void Admission::log_rejection(const std::string& reason, const protocol::NodePublic& key,
                              const std::string& source_ip) {
  {
    std::lock_guard lock(recent_mu_);
    if (recent_.size() >= kRecentRefusals) recent_.pop_front();
    recent_.push_back(Refusal{key, source_ip, reason, std::chrono::system_clock::now()});
  }
  // One line per reason per interval: a reconnect storm of strangers must not flood the log.
  if (auto suppressed = log_throttle_.allow(reason, std::chrono::steady_clock::now())) {
    logging::log_event(spdlog::level::info, "client_refused",
                       {{"key", key.to_text()},
                        {"remote", source_ip},
                        {"reason", reason},
                        {"suppressed", std::to_string(*suppressed)}},
                       "admission: refused {} from {}: {}{}", key.short_form(),
                       source_ip.empty() ? "?" : source_ip, reason,
                       logging::LogThrottle::suffix(*suppressed));
  }
}

std::optional<Admission::Cached> Admission::cached(const std::string& id) {
  if (config_.cache_ttl.count() <= 0) return std::nullopt;
  std::lock_guard lock(cache_mu_);
  auto it = cache_.find(id);
  if (it == cache_.end()) return std::nullopt;
  if (it->second.expires <= std::chrono::steady_clock::now()) {
    cache_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void Admission::remember(const std::string& id, bool admit, const std::string& reason) {
  if (config_.cache_ttl.count() <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(cache_mu_);
  if (cache_.size() >= kMaxCached) {
    std::erase_if(cache_, [now](const auto& entry) { return entry.second.expires <= now; });
    if (cache_.size() >= kMaxCached) cache_.clear();
  }
  cache_[id] = Cached{admit, reason, now + config_.cache_ttl};
}

void Admission::set_list(std::shared_ptr<const AdmitList> list) {
  std::lock_guard lock(list_mu_);
  list_ = std::move(list);
}

std::shared_ptr<const AdmitList> Admission::list() const {
  std::lock_guard lock(list_mu_);
  return list_;
}

void Admission::check(const protocol::NodePublic& key,
                      const std::optional<boost::asio::ip::address>& source, Done done) {
  const bool asks = config_.verify_clients || !config_.verify_url.empty();
  std::string source_ip = source ? source->to_string() : std::string();
  if (auto rules = list()) {
    auto d = decide(*rules, key, source);
    if (d.verdict == ListVerdict::kDeny) {
      count(DecisionSource::kList, DecisionResult::kRejected);
      std::string reason = "denied by the admit list (" + d.rule + ")";
      log_rejection(reason, key, source_ip);
      done(false, std::move(reason));
      return;
    }
    if (d.verdict == ListVerdict::kAllow) {
      count(DecisionSource::kList, DecisionResult::kAdmitted);
      done(true, "");
      return;
    }
    if (!asks && rules->has_allow_rules()) {
      count(DecisionSource::kList, DecisionResult::kRejected);
      std::string reason = "not on the admit list";
      log_rejection(reason, key, source_ip);
      done(false, std::move(reason));
      return;
    }
  }
  if (!asks) {
    done(true, "");
    return;
  }
  std::string id = key.to_hex() + " " + source_ip;
  if (auto hit = cached(id)) {
    count(DecisionSource::kCache,
          hit->admit ? DecisionResult::kAdmitted : DecisionResult::kRejected);
    if (!hit->admit) log_rejection(hit->reason + " (cached)", key, source_ip);
    done(hit->admit, hit->admit ? std::string() : hit->reason + " (cached)");
    return;
  }
  auto c =
      std::make_shared<Check>(Check{key, std::move(source_ip), std::move(id), std::move(done)});
  waiting_.fetch_add(1, std::memory_order_relaxed);
  asio::co_spawn(
      io_,
      [this, c]() -> asio::awaitable<Outcome> {
        auto ex = co_await asio::this_coro::executor;
        if (config_.verify_clients) {
          Outcome t = co_await ask_tailscaled(ex, config_, c->key);
          count(DecisionSource::kTailscaled,
                t.admit ? DecisionResult::kAdmitted : DecisionResult::kRejected);
          if (!t.admit) co_return t;
        }
        if (!config_.verify_url.empty()) {
          UrlOutcome u = co_await ask_controller(ex, config_, tls_, c->key, c->source_ip);
          if (u.unreachable && config_.fail_open) {
            count(DecisionSource::kUrl, DecisionResult::kAdmittedFailOpen);
            if (auto suppressed =
                    log_throttle_.allow("fail-open", std::chrono::steady_clock::now())) {
              spdlog::warn("admission: {}; admitting anyway (--verify-client-url-fail-open){}",
                           u.outcome.reason, logging::LogThrottle::suffix(*suppressed));
            }
            co_return Outcome{true, "", /*cacheable=*/false};
          }
          count(DecisionSource::kUrl,
                u.outcome.admit ? DecisionResult::kAdmitted : DecisionResult::kRejected);
          co_return u.outcome;
        }
        co_return Outcome{true, ""};
      },
      [this, c](std::exception_ptr error, Outcome outcome) {
        waiting_.fetch_sub(1, std::memory_order_relaxed);
        if (error) {
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            outcome = Outcome{false, std::string("admission check failed: ") + e.what(), false};
          }
        }
        if (outcome.cacheable) remember(c->cache_id, outcome.admit, outcome.reason);
        if (!outcome.admit) log_rejection(outcome.reason, c->key, c->source_ip);
        c->done(outcome.admit, std::move(outcome.reason));
      });
}

}  // namespace derp::admission
