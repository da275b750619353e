// Who may use the relay (protocol §4.9): after a client's ClientInfo opens, and unless it is a mesh
// peer, the node asks tailscaled (--verify-clients) and then an admission controller
// (--verify-client-url) before it sends ServerInfo. The calls run on the admission thread, so a
// slow controller delays only the clients waiting for it: workers keep relaying and accepting.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "relay/admission/admit_list.h"
#include "relay/logging/log_throttle.h"
#include "relay/protocol/key.h"

namespace boost::asio::ssl {
class context;
}

namespace derp::admission {

struct AdmissionConfig {
  bool verify_clients = false;  // ask tailscaled's LocalAPI whois
  std::string tailscaled_socket = "/var/run/tailscale/tailscaled.sock";
  std::string verify_url;  // POST here; "" skips
  // When the controller cannot be reached at all (refused, unresolvable, timed out), admit.
  bool fail_open = true;
  std::chrono::milliseconds timeout{5000};  // per call
  // How long an answer (admit or refuse; never a fail-open admit) is reused for the same key and
  // source address, so that a region's reconnect storm after a drain does not ask once per
  // client. 0: every client is asked about.
  std::chrono::milliseconds cache_ttl{0};
};

// Which check decided; kCache: an earlier answer of theirs, reused (cache_ttl); kList: derpd's
// own rules (admit_list.h).
// kMesh: a mesh peer, admitted before any check; the relay core counts those (ServerStats).
enum class DecisionSource { kTailscaled, kUrl, kCache, kList, kMesh };
enum class DecisionResult { kAdmitted, kRejected, kAdmittedFailOpen };
inline constexpr std::size_t kSourceCount = 5;
inline constexpr std::size_t kResultCount = 3;
std::string_view to_string(DecisionSource s);
std::string_view to_string(DecisionResult r);

// One refused client, for `derpctl admit recent`.
struct Refusal {
  protocol::NodePublic key;
  std::string source_ip;
  std::string reason;
  std::chrono::system_clock::time_point at;
};

struct AdmissionCounts {
  // [source][result]
  std::array<std::array<std::uint64_t, kResultCount>, kSourceCount> decisions{};
  std::uint64_t waiting = 0;  // checks in progress now
};

// derp_admission_total{source,result} and derp_admission_waiting, for /debug/varz.
std::string prometheus_text(const AdmissionCounts& c);

class Admission {
 public:
  // Starts the admission thread. Throws std::runtime_error for a config that cannot work (a
  // --verify-client-url that is not an http(s) URL).
  explicit Admission(AdmissionConfig config);
  ~Admission();
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // Admit or not; `done` runs on the admission thread, exactly once, unless stop() came first.
  using Done = std::function<void(bool admit, std::string reason)>;
  void check(const protocol::NodePublic& key, const std::optional<boost::asio::ip::address>& source,
             Done done);
  // Ends the thread; checks in progress are abandoned (their clients' handshakes time out).
  void stop();
  // derpd's own rules, checked before anything else (null: none). Any thread.
  void set_list(std::shared_ptr<const AdmitList> list);
  std::shared_ptr<const AdmitList> list() const;

  const AdmissionConfig& config() const { return config_; }
  // The last refusals, oldest first, at most kRecentRefusals of them.
  std::vector<Refusal> recent_refusals() const;
  static constexpr std::size_t kRecentRefusals = 100;
  AdmissionCounts counts() const;

 private:
  struct Check;
  struct Cached {
    bool admit = false;
    std::string reason;
    std::chrono::steady_clock::time_point expires;
  };
  // Beyond this many answers the expired ones go, and if that is not enough, all of them.
  static constexpr std::size_t kMaxCached = 100000;
  std::optional<Cached> cached(const std::string& id);
  void remember(const std::string& id, bool admit, const std::string& reason);
  void count(DecisionSource s, DecisionResult r);
  void log_rejection(const std::string& reason, const protocol::NodePublic& key,
                     const std::string& source_ip);

  AdmissionConfig config_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::array<std::array<std::atomic<std::uint64_t>, kResultCount>, kSourceCount> decisions_{};
  std::atomic<std::uint64_t> waiting_{0};
  logging::LogThrottle log_throttle_;
  mutable std::mutex list_mu_;
  std::shared_ptr<const AdmitList> list_;
  mutable std::mutex recent_mu_;
  std::deque<Refusal> recent_;
  std::mutex cache_mu_;
  std::unordered_map<std::string, Cached> cache_;  // key and source address → answer
  std::thread thread_;
};

}  // namespace derp::admission
