// /bootstrap-dns (protocol §1.5, §9.1): the addresses of the names in --bootstrap-dns-names, which
// Tailscale clients fetch from a DERP server when their own DNS is broken, and of the names in
// --unpublished-bootstrap-dns-names, answered only to `?q=NAME` and, for `NAME/TXTNAME`, only to
// the share of clients that TXTNAME's TXT record (a percentage) rolls the name out to. The names
// are resolved on a thread of their own at start and every 10 minutes, so a slow resolver never
// holds up a request; each answer is the last successful resolution, its addresses shuffled at
// each refresh as the reference does.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace derp::main {

// Pure: the reference's body, a tab-indented JSON object of name → addresses, "" for no names.
std::string bootstrap_dns_body(const std::map<std::string, std::vector<std::string>>& entries,
                               bool names_configured);
// "a,b, c" → {"a", "b", "c"}; empty entries dropped.
std::vector<std::string> split_names(const std::string& list);

struct UnpublishedName {
  std::string name;
  std::string txt_name;  // "" : answered to every client that asks
};
// "a.example,b.example/rollout.example" → {a.example, ""}, {b.example, rollout.example}.
std::vector<UnpublishedName> split_unpublished_names(const std::string& list);

// Pure: the rollout percentage a TXT record gives: its integer 0–100; no record, or anything
// else, is 0 %.
int rollout_percent(const std::optional<std::string>& txt);
// Pure: whether the client at `ip` (16 bytes, IPv4 v4-mapped) is among the `percent` % a name is
// rolled out to. The draw is a hash of the address, so a client gets the same answer each time.
// Loopback clients count as 50 % whatever the record says, as in the reference (for testing).
bool in_rollout(const std::array<std::uint8_t, 16>& ip, int percent);

class BootstrapDns {
 public:
  using Resolver = std::vector<std::string> (*)(const std::string& name, std::string& error);
  using TxtResolver = std::optional<std::string> (*)(const std::string& name);
  static std::vector<std::string> resolve_with_getaddrinfo(const std::string& name,
                                                           std::string& error);
  // The first string of the first TXT record; nullopt when there is none (or no answer within
  // about two seconds: a lookup cannot be interrupted, and derpd's shutdown waits for it).
  static std::optional<std::string> resolve_txt_with_res_query(const std::string& name);

  struct Config {
    std::vector<std::string> published;
    std::vector<UnpublishedName> unpublished;
    std::chrono::milliseconds refresh_every = std::chrono::minutes(10);
    Resolver resolve = &resolve_with_getaddrinfo;
    TxtResolver resolve_txt = &resolve_txt_with_res_query;
  };
  explicit BootstrapDns(Config config);
  ~BootstrapDns();
  BootstrapDns(const BootstrapDns&) = delete;
  BootstrapDns& operator=(const BootstrapDns&) = delete;

  // The body for a request from `client_ip` (any thread), `query_name` being its `?q=` value
  // ("" without one); counts it. An unpublished name the client is rolled out to gets
  // {name: [addresses]}; everything else the published names' body.
  std::string body(std::string_view query_name, const std::array<std::uint8_t, 16>& client_ip);
  std::uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  // Rounds of resolution completed (every name and TXT record looked up once per round).
  std::uint64_t refreshes() const { return refreshes_.load(std::memory_order_acquire); }
  // The reference's bootstrap_dns_* counters, as Prometheus text.
  std::string metrics_text() const;

  // Distinct `?q=` names remembered for bootstrap_dns_queried_domains before it starts over.
  static constexpr std::size_t kMaxQueriedDomains = 500;

 private:
  void refresh();

  const Config config_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> entries_;      // published
  std::map<std::string, std::vector<std::string>> unpublished_;  // resolved unpublished names
  std::map<std::string, int> percent_;                           // by unpublished name
  std::string body_;
  std::set<std::string> queried_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> refreshes_{0};
  std::uint64_t published_hits_ = 0, published_misses_ = 0;
  std::uint64_t unpublished_hits_ = 0, unpublished_misses_ = 0;
  std::uint64_t unpublished_percent_misses_ = 0;
  std::thread thread_;
};

}  // namespace derp::main
