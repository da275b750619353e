// Client verification against a trusted CA: SSL_CERT_FILE, explicit CA files, wrong names.
#include <gtest/gtest.h>

#include <cstdlib>

#include "relay/tls/server_context.h"
#include "relay/tls/test_ca.h"
#include "tests/unit/tls/tls_harness.h"

namespace derp::tls {
namespace {

using testing::ClientOptions;
using testing::run_handshake;
using testing::TempDir;

class ClientVerify : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = write_test_pki(dir_.path(), {"127.0.0.1", "localhost"});
    // An IP hostname: the server does no SNI check, so only the client decides.
    store_ = std::make_unique<CertStore>(ServerTlsConfig{"manual", dir_.path(), "127.0.0.1", {}},
                                         protocol::NodePrivate::generate().public_key());
  }
  ClientOptions verifying(const std::string& name) {
    ClientOptions o;
    o.server_name = name;
    o.verify_peer = true;
    o.ca_file = pki_.ca_cert;
    return o;
  }

  TempDir dir_;
  TestPki pki_;
  std::unique_ptr<CertStore> store_;
};

TEST_F(ClientVerify, TrustedCaAndMatchingNames) {
  EXPECT_TRUE(run_handshake(store_->current(), verifying("localhost")).ok());
  EXPECT_TRUE(run_handshake(store_->current(), verifying("127.0.0.1")).ok());
}

TEST_F(ClientVerify, WrongNameFails) {
  auto r = run_handshake(store_->current(), verifying("wrong.localhost"));
  EXPECT_TRUE(r.client_error);
  EXPECT_FALSE(run_handshake(store_->current(), verifying("127.0.0.2")).ok());
}

TEST_F(ClientVerify, CertNameOverridesTheVerifiedName) {
  ClientOptions o = verifying("127.0.0.2");
  o.cert_name = "localhost";
  EXPECT_TRUE(run_handshake(store_->current(), o).ok());
}

TEST_F(ClientVerify, UntrustedCaFails) {
  ClientOptions o = verifying("localhost");
  o.ca_file.clear();
  EXPECT_TRUE(run_handshake(store_->current(), o).client_error);
}

TEST_F(ClientVerify, SslCertFileIsHonoured) {
  ::setenv("SSL_CERT_FILE", pki_.ca_cert.c_str(), 1);
  ClientOptions o = verifying("localhost");
  o.ca_file.clear();
  auto r = run_handshake(store_->current(), o);
  ::unsetenv("SSL_CERT_FILE");
  EXPECT_TRUE(r.ok()) << r.client_error.message();
}

TEST_F(ClientVerify, InsecureForTestsSkipsVerification) {
  ClientOptions o;
  o.server_name = "wrong.localhost";
  o.verify_peer = false;
  EXPECT_TRUE(run_handshake(store_->current(), o).ok());
}

}  // namespace
}  // namespace derp::tls
