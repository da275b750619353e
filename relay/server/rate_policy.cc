#include "relay/server/rate_policy.h"

#include <algorithm>

namespace derp::server {

RatePolicy::Choice RatePolicy::for_key(const protocol::NodePublic& key) const {
  if (!in_use()) return {};
  std::lock_guard lock(mu_);
  if (auto it = overrides_.find(key); it != overrides_.end()) return {it->second, true};
  return {default_, false};
}

void RatePolicy::set_default(limits::ReceiveRate rate) {
  std::lock_guard lock(mu_);
  default_ = rate;
  update_in_use();
}

limits::ReceiveRate RatePolicy::default_rate() const {
  std::lock_guard lock(mu_);
  return default_;
}

void RatePolicy::set_override(const protocol::NodePublic& key,
                              std::optional<limits::ReceiveRate> rate) {
  std::lock_guard lock(mu_);
  if (rate) {
    overrides_[key] = *rate;
  } else {
    overrides_.erase(key);
  }
  update_in_use();
}

std::vector<std::pair<protocol::NodePublic, limits::ReceiveRate>> RatePolicy::overrides() const {
  std::vector<std::pair<protocol::NodePublic, limits::ReceiveRate>> all;
  {
    std::lock_guard lock(mu_);
    all.assign(overrides_.begin(), overrides_.end());
  }
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a.first.bytes < b.first.bytes; });
  return all;
}

void RatePolicy::update_in_use() {
  in_use_.store(default_.limited() || !overrides_.empty(), std::memory_order_relaxed);
}

}  // namespace derp::server
