// The production form of a region: nodes mesh over TLS (https://host:port/derp) and verify each
// other's certificates against the system trust store, which SSL_CERT_FILE points at a throwaway
// CA here. A node that does not trust its sibling's certificate refuses the link and says why.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "relay/tls/test_ca.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

class TlsRegion : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = tls::write_test_pki(dir_.path(), {"127.0.0.1"});
    std::ofstream(dir_.path() + "/mesh.key")
        << "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    ports_[0] = free_port();
    ports_[1] = free_port();
  }
  void TearDown() override { ::unsetenv("SSL_CERT_FILE"); }

  std::unique_ptr<DerpdProcess> start(int i, int sibling) {
    return std::make_unique<DerpdProcess>(std::vector<std::string>{
        "-a", "127.0.0.1:" + std::to_string(ports_[i]), "--stun=false", "--http-port", "-1",
        "--certmode", "manual", "--hostname", "127.0.0.1", "--certdir", dir_.path(), "-c",
        dir_.path() + "/node" + std::to_string(i) + ".key", "--mesh-psk-file",
        dir_.path() + "/mesh.key", "--mesh-with", "127.0.0.1:" + std::to_string(ports_[sibling])});
  }

  TempDir dir_;
  tls::TestPki pki_;
  std::uint16_t ports_[2]{};
};

// /debug/varz over the plain port is off in TLS mode: count links from the log instead.
bool linked(const DerpdProcess& node) {
  return node.log().find("linked to sibling") != std::string::npos;
}

TEST_F(TlsRegion, NodesTrustingTheCaLinkOverTls) {
  ::setenv("SSL_CERT_FILE", pki_.ca_cert.c_str(), 1);  // inherited by the derpd processes
  auto a = start(0, 1);
  auto b = start(1, 0);
  EXPECT_TRUE(eventually([&] { return linked(*a) && linked(*b); })) << "node a:\n"
                                                                    << a->log() << "\nnode b:\n"
                                                                    << b->log();
}

TEST_F(TlsRegion, ANodeThatDoesNotTrustTheSiblingRefusesTheLinkAndSaysWhy) {
  auto other = tls::write_test_pki(dir_.path() + "/other", {"127.0.0.1"});
  ::setenv("SSL_CERT_FILE", other.ca_cert.c_str(), 1);  // a CA that did not sign the siblings
  auto a = start(0, 1);
  auto b = start(1, 0);
  EXPECT_TRUE(eventually([&] {
    return a->log().find("failed during TLS handshake") != std::string::npos;
  })) << a->log();
  EXPECT_FALSE(linked(*a));
}

}  // namespace
}  // namespace derp::testing
