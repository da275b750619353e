#include "relay/tls/probe_checks.h"

#include <openssl/x509_vfy.h>

#include <ctime>

#include "relay/tls/cert_fields.h"

namespace derp::tls {

std::string utc_text(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::string> check_peer_cert_dates(SSL* ssl, std::int64_t now_unix,
                                               std::int64_t min_remaining_seconds) {
  std::vector<std::string> problems;
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (chain == nullptr || sk_X509_num(chain) == 0) {
    problems.push_back("no peer certificates");
    return problems;
  }
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* cert = sk_X509_value(chain, i);
    if (is_self_identified(cert)) continue;
    std::int64_t not_before = not_before_unix(cert);
    std::int64_t not_after = not_after_unix(cert);
    std::string who = "certificate " + subject_text(cert);
    if (not_before > now_unix) {
      problems.push_back(who + " is not valid yet (NotBefore " + utc_text(not_before) + ")");
    }
    std::int64_t left = not_after - now_unix;
    if (left < 0) {
      problems.push_back(who + " expired at " + utc_text(not_after));
    } else if (left < min_remaining_seconds) {
      problems.push_back(who + " expires in " + std::to_string(left / 86400) + " days (" +
                         utc_text(not_after) + ")");
    }
  }
  return problems;
}

std::string verify_failure(SSL* ssl) {
  const long verdict = SSL_get_verify_result(ssl);
  return verdict == X509_V_OK ? std::string() : X509_verify_cert_error_string(verdict);
}

std::int64_t peer_leaf_not_after(SSL* ssl) {
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (chain == nullptr || sk_X509_num(chain) == 0) return 0;
  return not_after_unix(sk_X509_value(chain, 0));
}

}  // namespace derp::tls
