#include "relay/main/bootstrap_dns.h"

#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

namespace derp::main {

std::string bootstrap_dns_body(const std::map<std::string, std::vector<std::string>>& entries,
                               bool names_configured) {
  if (!names_configured) return "";
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [name, ips] : entries) j[name] = ips;
  return j.dump(1, '\t') + "\n";
}

std::vector<std::string> split_names(const std::string& list) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= list.size()) {
    auto comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    std::string name = list.substr(at, comma - at);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (!name.empty()) out.push_back(name);
    at = comma + 1;
  }
  return out;
}

std::vector<std::string> BootstrapDns::resolve_with_getaddrinfo(const std::string& name,
                                                                std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &found); rc != 0) {
    error = ::gai_strerror(rc);
    return {};
  }
  std::vector<std::string> ips;
  for (auto* a = found; a; a = a->ai_next) {
    boost::asio::ip::address ip;
    if (a->ai_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      boost::asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), &sin->sin_addr, 4);
      ip = boost::asio::ip::address_v4(b);
    } else if (a->ai_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      boost::asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &sin6->sin6_addr, 16);
      ip = boost::asio::ip::address_v6(b);
    } else {
      continue;
    }
    const std::string text = ip.to_string();
    if (std::find(ips.begin(), ips.end(), text) == ips.end()) ips.push_back(text);
  }
  ::freeaddrinfo(found);
  return ips;
}

BootstrapDns::BootstrapDns(std::vector<std::string> names, std::chrono::milliseconds refresh_every,
                           Resolver resolve)
    : names_(std::move(names)),
      refresh_every_(refresh_every),
      resolve_(resolve),
      body_(bootstrap_dns_body({}, !names_.empty())) {
  if (names_.empty()) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      refresh();
      lock.lock();
      wake_.wait_for(lock, refresh_every_, [this] { return stopping_; });
    }
  });
}

BootstrapDns::~BootstrapDns() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  // A getaddrinfo() in progress cannot be interrupted; it ends within the resolver's timeout.
  if (thread_.joinable()) thread_.join();
}

void BootstrapDns::refresh() {
  static thread_local std::mt19937 shuffle_rng{std::random_device{}()};
  // Name by name: one whose resolver times out delays neither the others' answers nor a stop
  // for longer than its own lookup.
  for (const auto& name : names_) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    std::string error;
    auto ips = resolve_(name, error);
    if (ips.empty()) {
      spdlog::warn("bootstrap DNS: cannot resolve {} ({}); serving its last addresses, if any",
                   name, error.empty() ? "no addresses" : error);
      continue;
    }
    std::shuffle(ips.begin(), ips.end(), shuffle_rng);
    std::lock_guard lock(mu_);
    entries_[name] = std::move(ips);
    body_ = bootstrap_dns_body(entries_, true);
  }
}

std::string BootstrapDns::body() {
  requests_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  return body_;
}

}  // namespace derp::main
