#include "relay/acme/advice.h"

#include <charconv>
#include <ctime>

namespace derp::acme {
namespace {

std::string port_text(std::string_view challenge_type) {
  return challenge_type == "http-01" ? "TCP port 80 (HTTP-01)" : "TCP port 443 (TLS-ALPN-01)";
}

}  // namespace

std::string challenge_advice(const Problem& problem, std::string_view identifier,
                             std::string_view challenge_type) {
  const std::string type = problem.short_type();
  const std::string id(identifier);
  const std::string cause = " (the CA said: " + problem.text() + ")";
  if (type == "dns") {
    return "the CA could not look up " + id + ": its DNS A/AAAA records must point at this node" +
           cause;
  }
  if (type == "connection" || type == "tls") {
    return "the CA could not connect to " + id + " on " + port_text(challenge_type) +
           ": the port must be open to the internet and " + id + " must point at this node" + cause;
  }
  if (type == "unauthorized" || type == "incorrectResponse") {
    return "the CA reached " + id + " on " + port_text(challenge_type) +
           " but got another answer than this node's: does the name point at another machine, "
           "or is a proxy in front of this one?" +
           cause;
  }
  if (type == "rejectedIdentifier" || type == "caa") {
    return "the CA will not issue a certificate for " + id + cause;
  }
  return "validating " + id + " over " + std::string(challenge_type) + " failed" + cause;
}

std::string request_advice(const Problem& problem, std::string_view during) {
  const std::string type = problem.short_type();
  const std::string cause = " (the CA said: " + problem.text() + ")";
  const std::string step(during);
  if (type == "externalAccountRequired") {
    return "the CA requires External Account Binding: set --acme-eab-kid and --acme-eab-key" +
           cause;
  }
  if (type == "unauthorized" && step == "creating the account") {
    return "the CA refused the account; with External Account Binding check --acme-eab-kid and "
           "--acme-eab-key" +
           cause;
  }
  if (type == "rateLimited") return "rate limited by the CA while " + step + cause;
  if (type == "invalidContact") return "the CA refused --acme-email" + cause;
  if (type == "rejectedIdentifier") return "the CA will not issue for this name" + cause;
  return step + " failed" + cause;
}

std::optional<std::chrono::system_clock::time_point> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  long long seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && end == value.data() + value.size()) {
    if (seconds < 0 || seconds > 366LL * 24 * 3600) return std::nullopt;
    return now + std::chrono::seconds(seconds);
  }
  // IMF-fixdate: "Wed, 21 Oct 2015 07:28:00 GMT".
  std::string text(value);
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (rest == nullptr || *rest != '\0') return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace derp::acme
