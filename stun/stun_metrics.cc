#include "stun/stun_metrics.h"

#include <string_view>
#include <utility>
#include <vector>

namespace derp::stun {
namespace {

using LabelValues = std::vector<std::pair<std::string_view, std::uint64_t>>;

struct Family {
  std::string_view name;   // Prometheus name and, minus "stun_", the expvar key suffix
  std::string_view label;  // label name
  LabelValues values;
};

std::vector<Family> families(const StunCounters& c) {
  LabelValues dropped;
  for (std::size_t i = 1; i < c.dropped.size(); ++i)
    dropped.emplace_back(to_string(static_cast<DropReason>(i)), c.dropped[i]);
  return {
      {"requests",
       "disposition",
       {{"success", c.success},
        {"not_stun", c.not_stun},
        {"read_error", c.read_error},
        {"write_error", c.write_error}}},
      {"addrfamily", "family", {{"ipv4", c.ipv4}, {"ipv6", c.ipv6}}},
      {"answered", "form", {{"tailscale", c.answered_tailscale}, {"generic", c.answered_generic}}},
      {"dropped", "reason", std::move(dropped)},
  };
}

}  // namespace

StunCounters& StunCounters::operator+=(const StunCounters& o) {
  success += o.success;
  not_stun += o.not_stun;
  read_error += o.read_error;
  write_error += o.write_error;
  ipv4 += o.ipv4;
  ipv6 += o.ipv6;
  answered_tailscale += o.answered_tailscale;
  answered_generic += o.answered_generic;
  for (std::size_t i = 0; i < dropped.size(); ++i) dropped[i] += o.dropped[i];
  return *this;
}

std::string to_prometheus(const StunCounters& c) {
  std::string out;
  for (const Family& f : families(c)) {
    out += "# TYPE stun_";
    out += f.name;
    out += " counter\n";
    for (const auto& [value, n] : f.values) {
      out += "stun_";
      out += f.name;
      out += '{';
      out += f.label;
      out += "=\"";
      out += value;
      out += "\"} ";
      out += std::to_string(n);
      out += '\n';
    }
  }
  return out;
}

nlohmann::json to_expvar(const StunCounters& c) {
  nlohmann::json out = nlohmann::json::object();
  for (const Family& f : families(c)) {
    nlohmann::json& m = out["counter_" + std::string(f.name)];
    m = nlohmann::json::object();
    for (const auto& [value, n] : f.values) m[std::string(value)] = n;
  }
  return out;
}

}  // namespace derp::stun
