// /bootstrap-dns (protocol §1.5): the addresses of the names in --bootstrap-dns-names, which
// Tailscale clients fetch from a DERP server when their own DNS is broken. The names are
// resolved on a thread of their own at start and every 10 minutes, so a slow resolver never
// holds up a request; each answer is the last successful resolution, its addresses shuffled at
// each refresh as the reference does.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace derp::main {

// Pure: the reference's body, a tab-indented JSON object of name → addresses, "" for no names.
std::string bootstrap_dns_body(const std::map<std::string, std::vector<std::string>>& entries,
                               bool names_configured);
// "a,b, c" → {"a", "b", "c"}; empty entries dropped.
std::vector<std::string> split_names(const std::string& list);

class BootstrapDns {
 public:
  using Resolver = std::vector<std::string> (*)(const std::string& name, std::string& error);
  static std::vector<std::string> resolve_with_getaddrinfo(const std::string& name,
                                                           std::string& error);

  BootstrapDns(std::vector<std::string> names, std::chrono::milliseconds refresh_every,
               Resolver resolve = &resolve_with_getaddrinfo);
  ~BootstrapDns();
  BootstrapDns(const BootstrapDns&) = delete;
  BootstrapDns& operator=(const BootstrapDns&) = delete;

  // The body for a request (any thread); counts it.
  std::string body();
  std::uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }

 private:
  void refresh();

  const std::vector<std::string> names_;
  const std::chrono::milliseconds refresh_every_;
  const Resolver resolve_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::string>> entries_;
  std::string body_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> requests_{0};
  std::thread thread_;
};

}  // namespace derp::main
