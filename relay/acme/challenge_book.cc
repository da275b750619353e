#include "relay/acme/challenge_book.h"

namespace derp::acme {

void ChallengeBook::add_http01(const std::string& token, const std::string& key_authorization) {
  std::lock_guard lock(mu_);
  http01_[token] = key_authorization;
}

void ChallengeBook::remove_http01(const std::string& token) {
  std::lock_guard lock(mu_);
  http01_.erase(token);
}

std::optional<std::string> ChallengeBook::http01(std::string_view token) const {
  std::lock_guard lock(mu_);
  auto it = http01_.find(token);
  if (it == http01_.end()) return std::nullopt;
  return it->second;
}

std::string ChallengeBook::sni_key(const std::string& identifier) {
  if (auto reverse = tls::reverse_dns_name(identifier)) return *reverse;
  return tls::canonical_server_name(identifier);
}

void ChallengeBook::add_tls_alpn01(const std::string& identifier,
                                   std::shared_ptr<const tls::ChallengeCert> cert) {
  std::lock_guard lock(mu_);
  tls_alpn01_[sni_key(identifier)] = std::move(cert);
}

void ChallengeBook::remove_tls_alpn01(const std::string& identifier) {
  std::lock_guard lock(mu_);
  tls_alpn01_.erase(sni_key(identifier));
}

std::shared_ptr<const tls::ChallengeCert> ChallengeBook::tls_alpn01(std::string_view sni) const {
  std::lock_guard lock(mu_);
  auto it = tls_alpn01_.find(sni);
  return it == tls_alpn01_.end() ? nullptr : it->second;
}

tls::AcmeChallengeLookup ChallengeBook::tls_alpn01_lookup() const {
  return [this](std::string_view sni) { return tls_alpn01(sni); };
}

}  // namespace derp::acme
