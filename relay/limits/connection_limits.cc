#include "relay/limits/connection_limits.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string_view>

namespace derp::limits {

namespace ip = boost::asio::ip;

std::string_view to_string(Refusal r) {
  switch (r) {
    case Refusal::kNone:
      return "none";
    case Refusal::kDescriptors:
      return "descriptors";
    case Refusal::kAcceptRate:
      return "accept_rate";
    case Refusal::kMaxConnections:
      return "max_connections";
    case Refusal::kPerIp:
      return "per_ip";
  }
  return "unknown";
}

ConnectionSlot::~ConnectionSlot() {
  if (owner_) owner_->release(*this);
}

std::string_view explain(Refusal r) {
  switch (r) {
    case Refusal::kDescriptors:
      return "file descriptors nearly exhausted";
    case Refusal::kAcceptRate:
      return "over --accept-connection-limit";
    case Refusal::kMaxConnections:
      return "at --max-connections";
    case Refusal::kPerIp:
      return "at --max-connections-per-ip";
    case Refusal::kNone:
      break;
  }
  return "admitted";
}

namespace {

// 0 means no accept-rate limit, from the flag and from the admin API alike.
ConnectionLimitSettings normalized(ConnectionLimitSettings s) {
  if (!(s.accept_rate > 0)) s.accept_rate = std::numeric_limits<double>::infinity();
  return s;
}

}  // namespace

std::size_t ConnectionLimits::KeyHash::operator()(const ip::address_v6::bytes_type& b) const {
  return std::hash<std::string_view>()(
      std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

std::uint64_t ConnectionLimits::reserve_for(std::uint64_t descriptor_limit) {
  // 1/16 of the limit, at least 32 (the admin API's gRPC threads and a few derpctl sessions,
  // a probe, mesh links of a large region), at most 1,024.
  return std::clamp<std::uint64_t>(descriptor_limit / 16, 32, 1024);
}

std::shared_ptr<ConnectionLimits> ConnectionLimits::create(ConnectionLimitSettings settings,
                                                           std::vector<transport::IpPrefix> exempt,
                                                           DescriptorLimit descriptor_limit) {
  return std::shared_ptr<ConnectionLimits>(
      new ConnectionLimits(settings, std::move(exempt), std::move(descriptor_limit)));
}

ConnectionLimits::ConnectionLimits(ConnectionLimitSettings settings,
                                   std::vector<transport::IpPrefix> exempt,
                                   DescriptorLimit descriptor_limit)
    : settings_(normalized(settings)),
      exempt_prefixes_(std::move(exempt)),
      descriptor_limit_(std::move(descriptor_limit)),
      tokens_(static_cast<double>(settings.accept_burst)) {}

// IPv6 peers count per /64: one host is usually given a whole /64, and counting each address
// would let it walk past --max-connections-per-ip.
static boost::asio::ip::address_v6::bytes_type limit_key(const ip::address& peer) {
  auto key = transport::address_key(peer);
  const ip::address_v6 v6(key);
  if (!v6.is_v4_mapped()) std::fill(key.begin() + 8, key.end(), 0);
  return key;
}

bool ConnectionLimits::is_exempt(const ip::address& peer) const {
  return transport::any_contains(exempt_prefixes_, peer) ||
         sibling_addresses_.count(transport::address_key(peer)) > 0;
}

bool ConnectionLimits::take_accept_token(std::chrono::steady_clock::time_point now) {
  if (std::isinf(settings_.accept_rate)) return true;
  const double burst = static_cast<double>(settings_.accept_burst);
  // `now` was read before the lock: another accept may have refilled at a later instant.
  if (refilled_at_ != std::chrono::steady_clock::time_point{} && now <= refilled_at_) {
    now = refilled_at_;
  } else if (refilled_at_ != std::chrono::steady_clock::time_point{}) {
    const double elapsed = std::chrono::duration<double>(now - refilled_at_).count();
    tokens_ = std::min(burst, tokens_ + elapsed * settings_.accept_rate);
  }
  refilled_at_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

Refusal ConnectionLimits::refuse(Refusal r) {
  ++refused_[static_cast<std::size_t>(r)];
  return r;
}

Admission ConnectionLimits::admit(const ip::address& peer, int fd,
                                  std::chrono::steady_clock::time_point now) {
  const std::uint64_t fd_limit = descriptor_limit_ ? descriptor_limit_() : 0;
  std::lock_guard lock(mu_);
  Admission out;
  const bool exempt = is_exempt(peer);
  // accept() returns the lowest free descriptor, so every one below `fd` is in use.
  const auto used = static_cast<std::uint64_t>(std::max(fd, 0)) + 1;
  if (fd_limit > 0) {
    const std::uint64_t keep = exempt ? kExemptFloor : reserve_for(fd_limit);
    if (used + keep > fd_limit) {
      out.refused = refuse(Refusal::kDescriptors);
      return out;
    }
  }
  const auto key = limit_key(peer);
  if (!exempt) {
    if (!take_accept_token(now)) {
      out.refused = refuse(Refusal::kAcceptRate);
      return out;
    }
    if (settings_.max_connections > 0 && open_ >= settings_.max_connections) {
      out.refused = refuse(Refusal::kMaxConnections);
      return out;
    }
    auto it = per_ip_.find(key);
    if (settings_.max_per_ip > 0 && it != per_ip_.end() && it->second >= settings_.max_per_ip) {
      out.refused = refuse(Refusal::kPerIp);
      return out;
    }
    ++per_ip_[key];
    ++open_;
  } else {
    ++open_exempt_;
  }
  ++accepted_;
  out.slot.owner_ = shared_from_this();
  out.slot.key_ = key;
  out.slot.exempt_ = exempt;
  return out;
}

void ConnectionLimits::release(const ConnectionSlot& slot) {
  std::lock_guard lock(mu_);
  if (slot.exempt_) {
    --open_exempt_;
    return;
  }
  --open_;
  auto it = per_ip_.find(slot.key_);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

ConnectionLimitSettings ConnectionLimits::update(const ConnectionLimitChange& change) {
  std::lock_guard lock(mu_);
  if (change.max_connections) settings_.max_connections = *change.max_connections;
  if (change.max_per_ip) settings_.max_per_ip = *change.max_per_ip;
  if (change.accept_rate) settings_.accept_rate = *change.accept_rate;
  if (change.accept_burst) settings_.accept_burst = *change.accept_burst;
  settings_ = normalized(settings_);
  tokens_ = static_cast<double>(settings_.accept_burst);  // a fresh bucket, as at start
  refilled_at_ = {};
  return settings_;
}

void ConnectionLimits::add_sibling_address(const ip::address& address) {
  std::lock_guard lock(mu_);
  // Bounded: a sibling whose name resolves differently on every reconnect must not grow this.
  if (sibling_addresses_.size() >= 256) return;
  sibling_addresses_.insert(transport::address_key(address));
}

ConnectionLimitStats ConnectionLimits::stats() const {
  std::lock_guard lock(mu_);
  ConnectionLimitStats s;
  s.settings = settings_;
  s.open = open_;
  s.open_exempt = open_exempt_;
  s.source_ips = per_ip_.size();
  s.accepted = accepted_;
  s.refused = refused_;
  s.descriptor_limit = descriptor_limit_ ? descriptor_limit_() : 0;
  s.descriptor_reserve = s.descriptor_limit ? reserve_for(s.descriptor_limit) : 0;
  for (const auto& p : exempt_prefixes_) s.exempt.push_back(p.to_string());
  for (const auto& a : sibling_addresses_) {
    const ip::address_v6 v6(a);
    s.exempt.push_back(v6.is_v4_mapped() ? ip::make_address_v4(ip::v4_mapped, v6).to_string()
                                         : v6.to_string());
  }
  return s;
}

}  // namespace derp::limits
