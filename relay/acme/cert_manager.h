// Keeps a node's ACME certificate valid (--certmode letsencrypt / gcp): obtains the first one in
// the background at start-up, checks hourly and renews when less than a third of its lifetime is
// left, retries a failed issuance after 1 min doubling to 30 min (or when the CA's Retry-After
// says), and hands each new certificate to CertStore, which serves it to new handshakes while
// open connections keep theirs. The account key lives in <certdir>/acme-account.key (0600).
// Runs on a thread of its own; the listeners keep serving whatever happens here.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "relay/acme/acme_client.h"
#include "relay/acme/challenge_book.h"

namespace derp::tls {
class CertStore;
struct CertInfo;
}  // namespace derp::tls

namespace derp::acme {

inline constexpr std::string_view kLetsEncryptDirectory =
    "https://acme-v02.api.letsencrypt.org/directory";
inline constexpr std::string_view kGcpDirectory = "https://dv.acme-v02.api.pki.goog/directory";

struct CertManagerConfig {
  std::string certmode;       // letsencrypt or gcp
  std::string directory_url;  // --acme-directory-url; "" : the mode's CA
  std::string email;          // --acme-email
  std::string eab_kid;        // --acme-eab-kid
  std::string eab_key;        // --acme-eab-key, base64 or base64url as the CA hands it out
  std::string ca_file;        // --acme-ca-file: trust for the CA's HTTPS API beside the system's
  std::string certdir;
  std::string challenge = "auto";  // --acme-challenge: auto, tls-alpn-01 or http-01
  bool http01_listener = false;    // a port-80 listener runs (--http-port)
  bool tls_alpn01_listener = true;
  std::string name;  // the hostname (or IP, with --acme-ip-certs) to certify
};

// Checks the flags and fills in the mode's directory. Throws std::runtime_error naming the flag.
CertManagerConfig check_cert_manager_config(CertManagerConfig config);

// When a certificate valid from `not_before` to `not_after` (Unix seconds) is renewed: once less
// than a third of its lifetime is left.
std::int64_t renewal_time(std::int64_t not_before, std::int64_t not_after);

struct RenewalStatus {
  std::int64_t last_attempt = 0;  // Unix seconds; 0: none yet
  bool last_ok = false;
  std::string last_result;        // "issued by …, expires …" or what went wrong
  std::int64_t next_check = 0;    // Unix seconds: when the manager looks again (any certificate)
  std::uint64_t renewals_ok = 0;  // all certificates together
  std::uint64_t renewals_failed = 0;
};

class CertManager {
 public:
  // Reads or creates the account key (taking over derper's acme_account+key when ours is
  // missing). Throws std::runtime_error.
  CertManager(CertManagerConfig config, tls::CertStore& store, ChallengeBook& book);
  ~CertManager();
  CertManager(const CertManager&) = delete;
  CertManager& operator=(const CertManager&) = delete;

  void start();
  void stop();  // idempotent; an issuance in flight is abandoned

  // Renews the hostname's certificate now, due or not; `done` gets the attempt's result on the
  // manager's thread.
  void renew_now(std::function<void(bool ok, const std::string& result)> done);
  // --acme-ip-certs: keep a certificate for `ip` too (tls::IpCertTable asks, from any thread).
  void want_ip(const std::string& ip);
  // The last attempt for `name` ("" : the hostname), with the totals. Thread-safe.
  RenewalStatus status(const std::string& name = "") const;
  const CertManagerConfig& config() const { return config_; }

 private:
  struct Loop;
  struct Target;
  boost::asio::awaitable<void> run_loop();
  boost::asio::awaitable<void> attempt(Target& target, std::string why);
  std::optional<tls::CertInfo> current_of(const Target& target) const;
  // Posts `task` to the manager's thread; false once stop() began (the task is dropped).
  bool post_to_loop(std::function<void(Loop&)> task);
  bool ip_may_be_certified(const std::string& ip) const;

  CertManagerConfig config_;
  tls::CertStore& store_;
  ChallengeBook& book_;
  tls::EvpPkeyPtr account_key_;
  mutable std::mutex mu_;
  std::map<std::string, RenewalStatus> statuses_;
  std::int64_t next_check_ = 0;
  std::uint64_t renewals_ok_ = 0;
  std::uint64_t renewals_failed_ = 0;
  std::thread thread_;
  std::mutex post_mu_;  // guards loop_ against stop() for posts from other threads
  bool stopping_ = false;
  std::unique_ptr<Loop> loop_;  // last: its coroutines refer to everything above
};

}  // namespace derp::acme
