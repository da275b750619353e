// How many connections strangers may make the node hold (issue: an internet-facing relay).
// Checked once per accepted TCP connection, before a byte is read from it:
//   1. descriptors: the accepted fd number says how many are in use (accept returns the lowest
//      free one), so a connection that would eat into the reserve kept for the admin socket,
//      /derp/probe from localhost and mesh links is closed at once;
//   2. accept rate (derper's --accept-connection-limit/-burst, protocol §4.7.3);
//   3. --max-connections, then 4. --max-connections-per-ip.
// Exempt peers (loopback by default, and mesh siblings' addresses) skip 2-4 and only stop at the
// last few descriptors. Thread-safe: every worker's accept loop calls admit().
#pragma once

#include <array>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "relay/transport/ip_prefix.h"

namespace derp::limits {

struct ConnectionLimitSettings {
  std::uint64_t max_connections = 0;                                      // 0: no limit
  std::uint64_t max_per_ip = 0;                                           // 0: no limit
  double accept_rate = std::numeric_limits<double>::infinity();           // accepts per second
  std::uint64_t accept_burst = std::numeric_limits<std::int64_t>::max();  // derper: math.MaxInt
};

enum class Refusal { kNone, kDescriptors, kAcceptRate, kMaxConnections, kPerIp };
inline constexpr std::size_t kRefusalCount = 5;
// "descriptors", "accept_rate", "max_connections", "per_ip": metric labels and log words.
std::string_view to_string(Refusal r);
// What an operator reads in the log: "at --max-connections-per-ip", …
std::string_view explain(Refusal r);

// A change at run time: fields left empty keep their value.
struct ConnectionLimitChange {
  std::optional<std::uint64_t> max_connections, max_per_ip, accept_burst;
  std::optional<double> accept_rate;
};

struct ConnectionLimitStats {
  ConnectionLimitSettings settings;
  std::uint64_t open = 0;         // connections counted against the limits
  std::uint64_t open_exempt = 0;  // loopback, mesh siblings, --connection-limit-exempt
  std::uint64_t source_ips = 0;   // distinct addresses among `open`
  std::uint64_t accepted = 0;     // since start, exempt ones included
  std::array<std::uint64_t, kRefusalCount> refused{};  // by Refusal
  std::uint64_t descriptor_limit = 0;
  std::uint64_t descriptor_reserve = 0;
  std::vector<std::string> exempt;  // prefixes and sibling addresses, for status
};

class ConnectionLimits;

// An admitted connection's place, given back when the connection ends (move-only).
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(ConnectionSlot&& other) noexcept { swap(other); }
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept {
    ConnectionSlot(std::move(other)).swap(*this);
    return *this;
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot();
  explicit operator bool() const { return owner_ != nullptr; }

 private:
  friend class ConnectionLimits;
  void swap(ConnectionSlot& o) noexcept {
    std::swap(owner_, o.owner_);
    std::swap(key_, o.key_);
    std::swap(exempt_, o.exempt_);
  }
  std::shared_ptr<ConnectionLimits> owner_;
  boost::asio::ip::address_v6::bytes_type key_{};
  bool exempt_ = false;
};

struct Admission {
  ConnectionSlot slot;  // empty when refused
  Refusal refused = Refusal::kNone;
};

class ConnectionLimits : public std::enable_shared_from_this<ConnectionLimits> {
 public:
  // Returns the process's open-file limit now (0: unlimited). Asked on every accept, so a limit
  // changed on the live process (prlimit) takes effect at once.
  using DescriptorLimit = std::function<std::uint64_t()>;
  // An empty `descriptor_limit` does not check descriptors.
  static std::shared_ptr<ConnectionLimits> create(ConnectionLimitSettings settings,
                                                  std::vector<transport::IpPrefix> exempt,
                                                  DescriptorLimit descriptor_limit);

  // `fd` is the accepted socket's descriptor number.
  Admission admit(const boost::asio::ip::address& peer, int fd,
                  std::chrono::steady_clock::time_point now);

  // Applies to connections accepted from now on; open ones are kept even when over a new limit.
  // Read and changed under one lock, so concurrent changes of different fields all take effect.
  // Returns the settings now in force.
  ConnectionLimitSettings update(const ConnectionLimitChange& change);
  // A mesh sibling's address as the node dialled it: its own connections here are exempt.
  void add_sibling_address(const boost::asio::ip::address& address);
  ConnectionLimitStats stats() const;

  // Descriptors kept free from clients: enough for the admin API, probes and mesh links.
  static std::uint64_t reserve_for(std::uint64_t descriptor_limit);
  static constexpr std::uint64_t kExemptFloor = 8;  // exempt peers stop this close to the limit

 private:
  ConnectionLimits(ConnectionLimitSettings settings, std::vector<transport::IpPrefix> exempt,
                   DescriptorLimit descriptor_limit);
  friend class ConnectionSlot;
  void release(const ConnectionSlot& slot);
  bool is_exempt(const boost::asio::ip::address& peer) const;
  bool take_accept_token(std::chrono::steady_clock::time_point now);
  Refusal refuse(Refusal r);

  struct KeyHash {
    std::size_t operator()(const boost::asio::ip::address_v6::bytes_type& b) const;
  };

  mutable std::mutex mu_;
  ConnectionLimitSettings settings_;
  const std::vector<transport::IpPrefix> exempt_prefixes_;
  std::set<boost::asio::ip::address_v6::bytes_type> sibling_addresses_;
  const DescriptorLimit descriptor_limit_;
  double tokens_ = 0;
  std::chrono::steady_clock::time_point refilled_at_{};
  std::unordered_map<boost::asio::ip::address_v6::bytes_type, std::uint64_t, KeyHash> per_ip_;
  std::uint64_t open_ = 0, open_exempt_ = 0, accepted_ = 0;
  std::array<std::uint64_t, kRefusalCount> refused_{};
};

}  // namespace derp::limits
