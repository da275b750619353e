#include "relay/admin/auth.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "relay/files/secret_permissions.h"
#include "relay/logging/log_throttle.h"
#include "relay/logging/printable.h"

namespace derp::admin {

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("admin token file " + path + ": cannot read it (" +
                             std::strerror(errno) +
                             "); create it with one line of at least 16 random characters, e.g. "
                             "`openssl rand -hex 32 > " +
                             path + "`");
  }
  std::string line;
  std::getline(in, line);
  auto first = line.find_first_not_of(" \t\r\n");
  auto last = line.find_last_not_of(" \t\r\n");
  std::string token = first == std::string::npos ? "" : line.substr(first, last - first + 1);
  if (token.size() < 16) {
    throw std::runtime_error("admin token file " + path + ": the token must be at least 16 " +
                             "characters on the first line, got " + std::to_string(token.size()) +
                             "; e.g. `openssl rand -hex 32 > " + path + "`");
  }
  if (auto exposure = files::secret_file_exposure(path); !exposure.empty()) {
    spdlog::warn("admin token file {} {}", path, exposure);
  }
  return token;
}

bool token_matches(std::string_view presented, std::string_view expected) {
  if (sodium_init() < 0) return false;
  unsigned char a[crypto_generichash_BYTES], b[crypto_generichash_BYTES];
  crypto_generichash(a, sizeof a, reinterpret_cast<const unsigned char*>(presented.data()),
                     presented.size(), nullptr, 0);
  crypto_generichash(b, sizeof b, reinterpret_cast<const unsigned char*>(expected.data()),
                     expected.size(), nullptr, 0);
  return sodium_memcmp(a, b, sizeof a) == 0;
}

namespace {

grpc::Status check_credentials(const grpc::ServerContext& context, const AuthPolicy& policy) {
  if (policy.mtls) {
    auto auth = context.auth_context();
    if (auth && auth->IsPeerAuthenticated()) return grpc::Status::OK;
  }
  if (!policy.token.empty()) {
    const auto& md = context.client_metadata();
    auto it = md.find("authorization");
    if (it != md.end()) {
      std::string_view value(it->second.data(), it->second.size());
      constexpr std::string_view kBearer = "Bearer ";
      if (value.substr(0, kBearer.size()) == kBearer &&
          token_matches(value.substr(kBearer.size()), policy.token)) {
        return grpc::Status::OK;
      }
      return {grpc::StatusCode::UNAUTHENTICATED,
              "the bearer token does not match derpd's --admin-token-file"};
    }
  }
  return {grpc::StatusCode::UNAUTHENTICATED,
          policy.mtls ? "a client certificate signed by derpd's --admin-tls-client-ca is required"
                      : "send the token of derpd's --admin-token-file as "
                        "'authorization: Bearer <token>' metadata (derpctl --token-file)"};
}

logging::LogThrottle& failure_log() {
  static logging::LogThrottle throttle(std::chrono::seconds(10));
  return throttle;
}

}  // namespace

grpc::Status authorize(const grpc::ServerContext& context, const AuthPolicy& policy) {
  if (context.peer().rfind("unix:", 0) == 0) return grpc::Status::OK;
  const std::string peer = peer_host(context.peer());
  const auto now = AuthFailures::Clock::now();
  if (policy.failures) {
    if (auto wait = policy.failures->locked_for(peer, now); wait > wait.zero()) {
      const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
      return {
          grpc::StatusCode::UNAUTHENTICATED,
          "too many failed attempts from this address; retry in " + std::to_string(seconds) + " s"};
    }
  }
  grpc::Status status = check_credentials(context, policy);
  if (status.ok()) {
    if (policy.failures) policy.failures->record_success(peer);
    return status;
  }
  const int failures = policy.failures ? policy.failures->record_failure(peer, now) : 1;
  // The peer string comes from gRPC, not the client, but is still escaped: it ends up in logs.
  if (auto passed = failure_log().allow(peer, now)) {
    spdlog::warn("admin API: refused a call from {} ({} failures within {} s{}): {}{}",
                 logging::printable(peer), failures, AuthFailures::kWindow.count(),
                 failures >= AuthFailures::kMaxFailures ? ", locked out for 30 s" : "",
                 status.error_message(), logging::LogThrottle::suffix(*passed));
  }
  return status;
}

}  // namespace derp::admin
