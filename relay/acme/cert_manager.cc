#include "relay/acme/cert_manager.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>
#include <filesystem>
#include <list>
#include <stdexcept>

#include "relay/acme/jws.h"
#include "relay/files/atomic_file.h"
#include "relay/files/secret_permissions.h"
#include "relay/logging/event.h"
#include "relay/tls/acme_crypto.h"
#include "relay/tls/cert_builder.h"
#include "relay/tls/client_context.h"
#include "relay/tls/ip_cert_table.h"
#include "relay/tls/pem_files.h"
#include "relay/tls/probe_checks.h"
#include "relay/tls/server_context.h"
#include "relay/transport/ip_prefix.h"

namespace derp::acme {
namespace {

namespace asio = boost::asio;
using std::chrono::seconds;

constexpr seconds kFirstRetry{60};
constexpr seconds kLongestRetry{30 * 60};
constexpr seconds kCheckEvery{60 * 60};

std::int64_t now_unix() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

ChallengeChoice challenge_choice(const std::string& text) {
  if (text == "tls-alpn-01") return ChallengeChoice::kTlsAlpn01;
  if (text == "http-01") return ChallengeChoice::kHttp01;
  return ChallengeChoice::kAuto;
}

// Ours, else derper's (autocert keeps the account key as "acme_account+key"), else a new one.
tls::EvpPkeyPtr load_account_key(const std::string& certdir) {
  const std::filesystem::path ours = std::filesystem::path(certdir) / "acme-account.key";
  const std::filesystem::path derpers = std::filesystem::path(certdir) / "acme_account+key";
  if (std::filesystem::exists(ours)) {
    if (auto exposure = files::secret_file_exposure(ours); !exposure.empty()) {
      spdlog::warn("acme: the account key {} {}", ours.string(), exposure);
    }
    tls::EvpPkeyPtr key = tls::read_private_key_file(ours.string());
    tls::p256_public_point(key.get());  // throws for anything but P-256
    return key;
  }
  tls::EvpPkeyPtr key;
  if (std::filesystem::exists(derpers)) {
    try {
      key = tls::read_private_key_file(derpers.string());
      tls::p256_public_point(key.get());
      spdlog::info("acme: took over derper's account key {}", derpers.string());
    } catch (const std::exception& e) {
      spdlog::warn("acme: not taking over derper's account key {}: {}", derpers.string(), e.what());
      key.reset();
    }
  }
  if (!key) key = tls::generate_p256_key();
  files::write_file_atomically(ours, tls::private_key_to_pem(key.get()), 0600);
  return key;
}

}  // namespace

CertManagerConfig check_cert_manager_config(CertManagerConfig c) {
  if (c.certmode == "letsencrypt") {
    if (c.directory_url.empty()) c.directory_url = std::string(kLetsEncryptDirectory);
  } else if (c.certmode == "gcp") {
    if (c.directory_url.empty()) c.directory_url = std::string(kGcpDirectory);
    if (c.email.empty()) throw std::runtime_error("--certmode gcp needs --acme-email");
    if (c.eab_kid.empty() || c.eab_key.empty()) {
      throw std::runtime_error(
          "--certmode gcp needs External Account Binding: --acme-eab-kid and --acme-eab-key "
          "(from `gcloud publicca external-account-keys create`)");
    }
  } else {
    throw std::runtime_error("--certmode " + c.certmode + " does not use ACME");
  }
  if (!c.directory_url.starts_with("https://")) {
    throw std::runtime_error("--acme-directory-url must be an https:// URL, not \"" +
                             c.directory_url + "\"");
  }
  if (c.eab_kid.empty() != c.eab_key.empty()) {
    throw std::runtime_error("--acme-eab-kid and --acme-eab-key go together");
  }
  if (!c.eab_key.empty() && !decode_base64_any(c.eab_key)) {
    throw std::runtime_error("--acme-eab-key is neither base64 nor base64url");
  }
  if (c.challenge != "auto" && c.challenge != "tls-alpn-01" && c.challenge != "http-01") {
    throw std::runtime_error("--acme-challenge must be auto, tls-alpn-01 or http-01, not \"" +
                             c.challenge + "\"");
  }
  if (c.challenge == "http-01" && !c.http01_listener) {
    throw std::runtime_error(
        "--acme-challenge http-01 needs the port-80 listener (--http-port, default 80)");
  }
  if (c.email.find_first_of(" ,<>") != std::string::npos) {
    throw std::runtime_error("--acme-email \"" + c.email + "\" is not one address");
  }
  return c;
}

std::int64_t renewal_time(std::int64_t not_before, std::int64_t not_after) {
  return not_after - (not_after - not_before) / 3;
}

// Destroyed from the bottom up: the timer, then the io_context with whatever coroutine frames
// are still pending (they refer to the client), then the client.
// Destroyed from the bottom up: the timer, then the io_context with whatever coroutine frames
// are still pending (they refer to the client), then the client.
struct CertManager::Loop {
  std::unique_ptr<AcmeClient> client;
  asio::io_context io;
  asio::steady_timer wake{io};
  std::list<Target> targets;  // a list: attempt() holds a reference while want_ip() adds
  bool forced = false;        // renew_now() for the hostname's certificate
  bool stopped = false;
  std::vector<std::function<void(bool, const std::string&)>> waiting;
};

// A certificate the manager keeps valid: the hostname's, and with --acme-ip-certs beside a DNS
// hostname one per IP address handshakes arrived on.
struct CertManager::Target {
  std::string name;
  bool extra_ip = false;
  seconds backoff = kFirstRetry;
  std::int64_t retry_at = 0;  // after a failure: not before (Unix seconds)
  bool first_check = true;
};

namespace {

void log_step(std::string_view event, const std::string& name, const std::string& text) {
  logging::log_event(spdlog::level::info, event, {{"name", name}}, "acme: {}", text);
}

}  // namespace

CertManager::CertManager(CertManagerConfig config, tls::CertStore& store, ChallengeBook& book)
    : config_(check_cert_manager_config(std::move(config))),
      store_(store),
      book_(book),
      account_key_(load_account_key(config_.certdir)),
      loop_(std::make_unique<Loop>()) {
  AcmeClientConfig client;
  client.directory_url = config_.directory_url;
  client.email = config_.email;
  client.eab_kid = config_.eab_kid;
  if (!config_.eab_key.empty()) client.eab_key = *decode_base64_any(config_.eab_key);
  client.tls = tls::make_client_context(/*verify_peer=*/true, config_.ca_file);
  client.challenge = challenge_choice(config_.challenge);
  client.can_answer_http01 = config_.http01_listener;
  client.can_answer_tls_alpn01 = config_.tls_alpn01_listener;
  tls::EvpPkeyPtr key(EVP_PKEY_dup(account_key_.get()));
  loop_->client = std::make_unique<AcmeClient>(
      loop_->io.get_executor(), std::move(client), std::move(key), book_,
      [](std::string_view event, const std::string& text) { log_step(event, "", text); });
  Target hostname;
  hostname.name = config_.name;
  loop_->targets.push_back(std::move(hostname));
}

CertManager::~CertManager() {
  stop();
}

std::optional<tls::CertInfo> CertManager::current_of(const Target& t) const {
  return t.extra_ip ? store_.ip_cert_info(t.name) : store_.cert_info();
}

asio::awaitable<void> CertManager::attempt(Target& t, std::string why) {
  Loop& loop = *loop_;
  std::vector<std::function<void(bool, const std::string&)>> waiting;
  if (!t.extra_ip) {
    loop.forced = false;
    waiting.swap(loop.waiting);
  }
  const bool had_certificate = current_of(t).has_value();
  log_step("acme_renewal_started", t.name,
           "obtaining a certificate for " + t.name + " from " + config_.directory_url + " (" + why +
               ")");
  std::vector<std::string> names{t.name};
  IssueOutcome outcome = co_await loop.client->issue(std::move(names));
  if (loop.stopped) co_return;
  bool ok = false;
  std::string result = outcome.error;
  if (outcome.issued) {
    try {
      if (t.extra_ip) {
        store_.install_issued_ip(t.name, outcome.issued->chain_pem, outcome.issued->key_pem);
      } else {
        store_.install_issued(outcome.issued->chain_pem, outcome.issued->key_pem);
      }
      ok = true;
      auto info = current_of(t);
      result = "issued by " + (info ? info->issuer : std::string("?")) + ", expires " +
               tls::utc_text(info ? info->not_after : 0);
    } catch (const std::exception& e) {
      result = std::string("the issued certificate cannot be served: ") + e.what();
    }
  }
  const std::int64_t now = now_unix();
  if (ok) {
    t.backoff = kFirstRetry;
    // Not at once again, whatever the new certificate's dates say (a clock far off, a CA
    // issuing certificates that are already old): that would be a tight loop of orders.
    t.retry_at = now + kFirstRetry.count();
    log_step("acme_installed", t.name,
             "certificate for " + t.name + " " + result + "; serving it to new connections");
  } else {
    seconds wait = t.backoff;
    if (outcome.retry_after) {
      auto until = std::chrono::duration_cast<seconds>(*outcome.retry_after -
                                                       std::chrono::system_clock::now());
      if (until > wait) wait = until;
      // Rate limits: say until when, in the operator's terms, not only "in N s".
      result += "; the CA asks to wait until " +
                tls::utc_text(std::chrono::system_clock::to_time_t(*outcome.retry_after));
    }
    t.retry_at = now + wait.count();
    t.backoff = std::min(t.backoff * 2, kLongestRetry);
    logging::log_event(spdlog::level::err, "acme_failed", {{"name", t.name}},
                       "acme: could not obtain a certificate for {}: {}; {}; retrying in {} s",
                       t.name, result,
                       had_certificate ? "the current certificate keeps serving"
                       : t.extra_ip    ? "the hostname's certificate serves meanwhile"
                                       : "TLS stays refused until then",
                       wait.count());
  }
  {
    std::lock_guard lock(mu_);
    RenewalStatus& st = statuses_[t.name];
    st.last_attempt = now;
    st.last_ok = ok;
    st.last_result = result;
    ++(ok ? renewals_ok_ : renewals_failed_);
  }
  for (auto& done : waiting) done(ok, result);
}

asio::awaitable<void> CertManager::run_loop() {
  Loop& loop = *loop_;
  for (;;) {
    const std::int64_t now = now_unix();
    Target* due = nullptr;
    std::string why;
    std::int64_t next = now + kCheckEvery.count();
    for (auto& t : loop.targets) {
      auto current = current_of(t);
      if (loop.forced && !t.extra_ip) {
        due = &t;
        why = "renewal asked for";
        break;
      }
      const std::int64_t renew_at =
          current ? renewal_time(current->not_before, current->not_after) : now;
      if (now >= renew_at && now >= t.retry_at) {
        due = &t;
        why = current ? "less than a third of its lifetime is left" : "no certificate yet";
        break;
      }
      next = std::min(next, std::max(renew_at, t.retry_at));
      if (t.first_check && current && now < renew_at) {
        log_step("acme_stored", t.name,
                 "the stored certificate for " + t.name + " expires " +
                     tls::utc_text(current->not_after) + "; it is renewed from " +
                     tls::utc_text(renew_at));
      }
      t.first_check = false;
    }
    if (due != nullptr) {
      co_await attempt(*due, why);
      if (loop.stopped) co_return;
      continue;
    }
    const seconds wait = std::clamp(seconds(next - now), seconds(1), kCheckEvery);
    {
      std::lock_guard lock(mu_);
      next_check_ = now + wait.count();
    }
    loop.wake.expires_after(wait);
    boost::system::error_code ec;
    co_await loop.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (loop.stopped) co_return;
  }
}

void CertManager::start() {
  asio::co_spawn(
      loop_->io, [this] { return run_loop(); },
      [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::critical("acme: the renewal loop stopped: {}; certificates are no longer renewed",
                           ex.what());
        }
      });
  thread_ = std::thread([this] { loop_->io.run(); });
}

void CertManager::stop() {
  {
    std::lock_guard lock(post_mu_);
    if (stopping_ || !loop_) return;
    stopping_ = true;
    asio::post(loop_->io, [loop = loop_.get()] {
      loop->stopped = true;
      loop->wake.cancel();
      loop->io.stop();
    });
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(post_mu_);
  loop_.reset();
}

bool CertManager::post_to_loop(std::function<void(Loop&)> task) {
  std::lock_guard lock(post_mu_);
  if (stopping_ || !loop_) return false;
  asio::post(loop_->io, [loop = loop_.get(), task = std::move(task)] { task(*loop); });
  return true;
}

void CertManager::renew_now(std::function<void(bool ok, const std::string& result)> done) {
  auto shared = std::make_shared<decltype(done)>(std::move(done));
  const bool posted = post_to_loop([shared](Loop& loop) {
    loop.waiting.push_back(std::move(*shared));
    loop.forced = true;
    loop.wake.cancel();
  });
  if (!posted) (*shared)(false, "the ACME manager is not running");
}

void CertManager::want_ip(const std::string& ip) {
  if (!ip_may_be_certified(ip)) return;
  post_to_loop([this, ip](Loop& loop) {
    if (loop.targets.size() > tls::IpCertTable::kMaxAddresses) return;
    for (const auto& t : loop.targets) {
      if (t.name == ip) return;
    }
    if (!store_.load_stored_ip(ip)) {
      log_step("acme_ip_wanted", ip,
               "a handshake without a name arrived on " + ip +
                   "; obtaining a certificate for that address (--acme-ip-certs)");
    }
    Target t;
    t.name = ip;
    t.extra_ip = true;
    loop.targets.push_back(std::move(t));
    loop.wake.cancel();
  });
}

bool CertManager::ip_may_be_certified(const std::string& ip) const {
  // With --acme-directory-url the operator's CA decides (a private CA may certify anything; the
  // tests' pebble certifies 127.0.0.1). A public CA validates over the internet: loopback,
  // private, link-local, CGNAT (Tailscale's own range) and ULA addresses (health checks, a NAT's
  // inside) would be orders doomed to fail every 30 minutes.
  if (config_.directory_url != kLetsEncryptDirectory && config_.directory_url != kGcpDirectory) {
    return true;
  }
  static const auto kNotPublic = transport::parse_prefix_list(
      "0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 "
      "192.168.0.0/16 224.0.0.0/4 ::/128 ::1 fc00::/7 fe80::/10 ff00::/8");
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(ip, ec);
  return !ec && !transport::any_contains(kNotPublic, address);
}

RenewalStatus CertManager::status(const std::string& name) const {
  std::lock_guard lock(mu_);
  RenewalStatus st;
  if (auto it = statuses_.find(name.empty() ? config_.name : name); it != statuses_.end()) {
    st = it->second;
  }
  st.next_check = next_check_;
  st.renewals_ok = renewals_ok_;
  st.renewals_failed = renewals_failed_;
  return st;
}

}  // namespace derp::acme
