#include "relay/main/admit_control.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

#include "relay/files/atomic_file.h"
#include "relay/files/small_file.h"
#include "relay/server/admin_queries.h"
#include "relay/transport/ip_prefix.h"

namespace derp::main {
namespace {

constexpr std::size_t kMaxFileBytes = 4 << 20;

// The file's rules; nullopt with `error` set when it cannot be read or parsed. A missing file is
// an empty list.
std::optional<admission::AdmitList> read_rules(const std::string& path, std::string& error) {
  auto file = files::read_small_file(path, kMaxFileBytes);
  if (file.missing) return admission::AdmitList{};
  if (!file.text) {
    error = file.error;
    return std::nullopt;
  }
  auto list = admission::parse_admit_list(*file.text, error);
  if (!list) error = path + ": " + error;
  return list;
}

}  // namespace

AdmitControl::AdmitControl(server::Server& server, std::shared_ptr<admission::Admission> admission,
                           std::string path)
    : server_(server), admission_(std::move(admission)), path_(std::move(path)) {
  std::string error;
  auto rules = read_rules(path_, error);
  if (!rules) throw std::runtime_error("--admit-file " + error);
  rules_ = std::move(*rules);
  admission_->set_list(std::make_shared<admission::AdmitList>(rules_));
  spdlog::info("admission rules: {} from {}", rules_.rules.size(), path_);
}

void AdmitControl::reload() {
  std::string error;
  auto rules = read_rules(path_, error);
  if (!rules) {
    spdlog::error("admission rules not reloaded, the previous ones stay: {}", error);
    return;
  }
  std::lock_guard lock(mu_);
  rules_ = std::move(*rules);
  admission_->set_list(std::make_shared<admission::AdmitList>(rules_));
  spdlog::info("admission rules reloaded: {} from {}", rules_.rules.size(), path_);
}

admin::AdmitRulesResult AdmitControl::result_locked() const {
  admin::AdmitRulesResult r;
  for (const auto& rule : rules_.rules) r.rules.push_back(rule.text());
  r.file = path_;
  return r;
}

admin::AdmitRulesResult AdmitControl::list() const {
  std::lock_guard lock(mu_);
  return result_locked();
}

admin::AdmitRulesResult AdmitControl::change(admin::AdmitAction action, const std::string& target) {
  using Error = admin::AdmitRulesResult::Error;
  std::optional<admission::AdmitRule> new_deny;
  admin::AdmitRulesResult r;
  {
    std::lock_guard lock(mu_);
    admission::AdmitList edited = rules_;
    std::string error =
        action == admin::AdmitAction::kRemove
            ? admission::remove_rule(edited, target)
            : admission::set_rule(edited, action == admin::AdmitAction::kAllow, target);
    if (!error.empty()) {
      r.error = error.starts_with("no rule") ? Error::kNoSuchRule : Error::kBadTarget;
      r.message = error;
      return r;
    }
    rules_ = std::move(edited);
    admission_->set_list(std::make_shared<admission::AdmitList>(rules_));
    if (action == admin::AdmitAction::kDeny) new_deny = rules_.rules.back();
    r = result_locked();
    try {
      files::write_file_atomically(path_, admission::format_admit_list(rules_), 0644);
    } catch (const std::exception& e) {
      spdlog::error("admission rule changed but {} not written: {}", path_, e.what());
      r.error = Error::kNotSaved;
      r.message = e.what();
    }
  }
  if (new_deny) r.closed = close_matching(*new_deny);
  return r;
}

std::size_t AdmitControl::close_matching(const admission::AdmitRule& rule) {
  auto sessions = server::collect_sessions(server_, std::chrono::seconds(2));
  if (!sessions) return 0;
  std::size_t closed = 0;
  for (const auto& s : *sessions) {
    if (s.can_mesh || !s.established) continue;
    if (!admission::matches(rule, s.key, transport::address_from_key(s.info.remote_ip))) continue;
    closed += server::close_client(server_, s.key, "denied: " + rule.text());
  }
  return closed;
}

}  // namespace derp::main
