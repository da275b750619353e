#include "relay/main/bootstrap_dns.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "relay/transport/ip_prefix.h"

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

std::vector<UnpublishedName> split_unpublished_names(const std::string& list) {
  std::vector<UnpublishedName> out;
  for (const auto& entry : split_names(list)) {
    const auto slash = entry.find('/');
    if (slash == std::string::npos) {
      out.push_back({entry, ""});
    } else {
      out.push_back({entry.substr(0, slash), entry.substr(slash + 1)});
    }
  }
  return out;
}

int rollout_percent(const std::optional<std::string>& txt) {
  if (!txt) return 0;
  std::string_view t = *txt;
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  int value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || value < 0 || value > 100) {
    return 0;
  }
  return value;
}

bool in_rollout(const std::array<std::uint8_t, 16>& ip, int percent) {
  if (transport::address_from_key(ip).is_loopback()) percent = 50;
  // FNV-1a over the address: stable across restarts and nodes, so a client's answer only
  // changes when the percentage does.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (auto b : ip) h = (h ^ b) * 0x100000001b3ULL;
  return static_cast<int>(h % 100) < percent;
}

std::optional<std::string> BootstrapDns::resolve_txt_with_res_query(const std::string& name) {
  struct __res_state state {};
  if (res_ninit(&state) != 0) return std::nullopt;
  state.retrans = 1;  // seconds per try
  state.retry = 1;
  std::array<unsigned char, 4096> answer{};
  const int n = res_nquery(&state, name.c_str(), ns_c_in, ns_t_txt, answer.data(),
                           static_cast<int>(answer.size()));
  res_nclose(&state);
  // A reply larger than the buffer reports its full length: parse none of it.
  if (n < 0 || n > static_cast<int>(answer.size())) return std::nullopt;
  ns_msg msg;
  if (ns_initparse(answer.data(), n, &msg) < 0) return std::nullopt;
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_txt) continue;
    const unsigned char* rdata = ns_rr_rdata(rr);
    const int length = ns_rr_rdlen(rr);
    if (length < 1 || rdata[0] + 1 > length) continue;
    return std::string(reinterpret_cast<const char*>(rdata + 1), rdata[0]);
  }
  return std::nullopt;
}

BootstrapDns::BootstrapDns(Config config)
    : config_(std::move(config)), body_(bootstrap_dns_body({}, !config_.published.empty())) {
  if (config_.published.empty() && config_.unpublished.empty()) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      refresh();
      lock.lock();
      wake_.wait_for(lock, config_.refresh_every, [this] { return stopping_; });
    }
  });
}

BootstrapDns::~BootstrapDns() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  // A lookup in progress cannot be interrupted; it ends within the resolver's timeout.
  if (thread_.joinable()) thread_.join();
}

void BootstrapDns::refresh() {
  static thread_local std::mt19937 shuffle_rng{std::random_device{}()};
  auto stopping = [this] {
    std::lock_guard lock(mu_);
    return stopping_;
  };
  // Name by name: one whose resolver times out delays neither the others' answers nor a stop
  // for longer than its own lookup.
  auto resolve = [&](const std::string& name, bool published) {
    std::string error;
    auto ips = config_.resolve(name, error);
    if (ips.empty()) {
      spdlog::warn("bootstrap DNS: cannot resolve {} ({}); serving its last addresses, if any",
                   name, error.empty() ? "no addresses" : error);
      return;
    }
    std::shuffle(ips.begin(), ips.end(), shuffle_rng);
    std::lock_guard lock(mu_);
    if (published) {
      entries_[name] = std::move(ips);
      body_ = bootstrap_dns_body(entries_, true);
    } else {
      unpublished_[name] = std::move(ips);
    }
  };
  for (const auto& name : config_.published) {
    if (stopping()) return;
    resolve(name, true);
  }
  for (const auto& u : config_.unpublished) {
    if (stopping()) return;
    resolve(u.name, false);
  }
  for (const auto& u : config_.unpublished) {
    if (stopping()) return;
    const int percent = u.txt_name.empty() ? 100 : rollout_percent(config_.resolve_txt(u.txt_name));
    std::lock_guard lock(mu_);
    auto [it, fresh] = percent_.insert_or_assign(u.name, percent);
    if (fresh && !u.txt_name.empty()) {
      spdlog::info("bootstrap DNS: {} rolled out to {}% of clients (TXT {})", u.name, percent,
                   u.txt_name);
    }
  }
  refreshes_.fetch_add(1, std::memory_order_release);
}

std::string BootstrapDns::body(std::string_view query_name,
                               const std::array<std::uint8_t, 16>& client_ip) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  if (query_name.empty()) return body_;
  const std::string name(query_name.substr(0, 255));
  if (queried_.size() >= kMaxQueriedDomains) queried_.clear();
  queried_.insert(name);
  if (auto it = unpublished_.find(name); it != unpublished_.end()) {
    const auto percent = percent_.find(name);
    if (percent != percent_.end() && in_rollout(client_ip, percent->second)) {
      ++unpublished_hits_;
      return bootstrap_dns_body({{name, it->second}}, true);
    }
    ++unpublished_percent_misses_;
  } else {
    ++unpublished_misses_;
  }
  if (entries_.contains(name)) {
    ++published_hits_;
  } else {
    ++published_misses_;
  }
  return body_;
}

std::string BootstrapDns::metrics_text() const {
  std::lock_guard lock(mu_);
  std::string out;
  auto counter = [&](const char* name, std::uint64_t value) {
    out += std::string("# TYPE ") + name + " counter\n" + name + " " + std::to_string(value) + "\n";
  };
  counter("bootstrap_dns_requests", requests());
  counter("bootstrap_dns_published_hits", published_hits_);
  counter("bootstrap_dns_published_misses", published_misses_);
  counter("bootstrap_dns_unpublished_hits", unpublished_hits_);
  counter("bootstrap_dns_unpublished_misses", unpublished_misses_);
  counter("bootstrap_dns_unpublished_percent_misses", unpublished_percent_misses_);
  counter("bootstrap_dns_queried_domains", queried_.size());
  return out;
}

}  // namespace derp::main
