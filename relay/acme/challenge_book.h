// The ACME challenges a node is answering right now: HTTP-01 key authorisations by token (served
// on the port-80 listener) and TLS-ALPN-01 certificates by name (served on the TLS listener).
// The ACME client adds an answer before it tells the CA to validate and removes it afterwards;
// the listeners look answers up from their worker threads.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "relay/tls/acme_challenge.h"

namespace derp::acme {

class ChallengeBook {
 public:
  // HTTP-01 (RFC 8555 §8.3): GET /.well-known/acme-challenge/<token> answers `key_authorization`.
  void add_http01(const std::string& token, const std::string& key_authorization);
  void remove_http01(const std::string& token);
  std::optional<std::string> http01(std::string_view token) const;

  // TLS-ALPN-01 (RFC 8737): `identifier` is the DNS name or IP being validated; an IP is looked up
  // by its reverse name (RFC 8738 §6), which is what the CA sends as SNI.
  void add_tls_alpn01(const std::string& identifier,
                      std::shared_ptr<const tls::ChallengeCert> cert);
  void remove_tls_alpn01(const std::string& identifier);
  std::shared_ptr<const tls::ChallengeCert> tls_alpn01(std::string_view sni) const;

  // What CertStore calls from its ClientHello callback.
  tls::AcmeChallengeLookup tls_alpn01_lookup() const;

 private:
  static std::string sni_key(const std::string& identifier);

  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> http01_;
  std::map<std::string, std::shared_ptr<const tls::ChallengeCert>, std::less<>> tls_alpn01_;
};

}  // namespace derp::acme
