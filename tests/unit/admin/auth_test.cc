// The admin API's token handling.
#include <gtest/gtest.h>

#include <fstream>

#include "relay/admin/admin_endpoint.h"
#include "relay/admin/auth.h"

namespace derp::admin {
namespace {

TEST(AdminAuth, TokenComparison) {
  EXPECT_TRUE(token_matches("0123456789abcdef", "0123456789abcdef"));
  EXPECT_FALSE(token_matches("0123456789abcdeF", "0123456789abcdef"));
  EXPECT_FALSE(token_matches("0123456789abcdef0", "0123456789abcdef"));
  EXPECT_FALSE(token_matches("", "0123456789abcdef"));
}

TEST(AdminAuth, TokenFileRules) {
  std::string path = ::testing::TempDir() + "/admin-token";
  { std::ofstream(path) << "  0123456789abcdef0123  \nsecond line ignored\n"; }
  EXPECT_EQ(read_token_file(path), "0123456789abcdef0123");
  { std::ofstream(path) << "short\n"; }
  try {
    read_token_file(path);
    FAIL() << "a short token must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("at least 16"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("short"), std::string::npos) << "never echo the token";
  }
  EXPECT_THROW(read_token_file(path + ".missing"), std::runtime_error);
}

TEST(AdminAuth, TcpWithoutTokenOrMtlsIsRefused) {
  AdminEndpointConfig c;
  c.tcp_listen = "127.0.0.1:0";
  try {
    validate_tcp_auth(c);
    FAIL() << "TCP without authentication must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--admin-token-file"), std::string::npos);
  }
  c.token = "0123456789abcdef";
  EXPECT_NO_THROW(validate_tcp_auth(c));
  c.token.clear();
  c.tls_client_ca_file = "ca.pem";
  EXPECT_THROW(validate_tcp_auth(c), std::runtime_error);  // mTLS needs a cert and key too
  c.tls_cert_file = "cert.pem";
  c.tls_key_file = "key.pem";
  EXPECT_NO_THROW(validate_tcp_auth(c));
}

TEST(AuthFailures, LocksOutAPeerAfterRepeatedFailuresThenForgives) {
  AuthFailures f;
  const auto t0 = AuthFailures::Clock::now();
  for (int i = 1; i < AuthFailures::kMaxFailures; ++i) {
    EXPECT_EQ(f.record_failure("ipv4:192.0.2.1", t0), i);
    EXPECT_EQ(f.locked_for("ipv4:192.0.2.1", t0), AuthFailures::Clock::duration::zero());
  }
  f.record_failure("ipv4:192.0.2.1", t0);
  EXPECT_EQ(f.locked_for("ipv4:192.0.2.1", t0), AuthFailures::kLockout);
  EXPECT_EQ(f.locked_for("ipv4:192.0.2.2", t0), AuthFailures::Clock::duration::zero())
      << "another peer is not affected";
  EXPECT_EQ(f.locked_for("ipv4:192.0.2.1", t0 + AuthFailures::kLockout),
            AuthFailures::Clock::duration::zero());
}

TEST(AuthFailures, FailuresSpreadBeyondTheWindowDoNotAddUp) {
  AuthFailures f;
  auto t = AuthFailures::Clock::now();
  for (int i = 0; i < 3 * AuthFailures::kMaxFailures; ++i) {
    f.record_failure("ipv6:[::1]", t);
    t += AuthFailures::kWindow / (AuthFailures::kMaxFailures - 1) + std::chrono::seconds(1);
    EXPECT_EQ(f.locked_for("ipv6:[::1]", t), AuthFailures::Clock::duration::zero()) << i;
  }
}

TEST(AuthFailures, SuccessClearsTheCount) {
  AuthFailures f;
  const auto t0 = AuthFailures::Clock::now();
  for (int i = 1; i < AuthFailures::kMaxFailures; ++i) f.record_failure("p", t0);
  f.record_success("p");
  EXPECT_EQ(f.record_failure("p", t0), 1);
}

TEST(AuthFailures, PeerHostDropsThePort) {
  EXPECT_EQ(peer_host("ipv4:192.0.2.1:5555"), "ipv4:192.0.2.1");
  EXPECT_EQ(peer_host("ipv6:[::1]:5555"), "ipv6:[::1]");
  EXPECT_EQ(peer_host("unix:/run/derpd/admin.sock"), "unix:/run/derpd/admin.sock");
}

}  // namespace
}  // namespace derp::admin
