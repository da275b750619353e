// Real handshakes against CertStore's context: versions, ALPN, the chain with the meta cert at
// its end, and the SNI rule (protocol §1.2, §1.2.1).
#include <gtest/gtest.h>

#include <fstream>

#include "relay/tls/server_context.h"
#include "relay/tls/test_ca.h"
#include "tests/unit/tls/tls_harness.h"

namespace derp::tls {
namespace {

using testing::ClientOptions;
using testing::run_handshake;
using testing::TempDir;

class Handshake : public ::testing::Test {
 protected:
  CertStore& store_for(const std::string& hostname, const std::vector<std::string>& names) {
    pki_ = write_test_pki(dir_.path(), names);
    store_ =
        std::make_unique<CertStore>(ServerTlsConfig{"manual", dir_.path(), hostname, {}}, key_);
    return *store_;
  }

  TempDir dir_;
  protocol::NodePublic key_ = protocol::NodePrivate::generate().public_key();
  TestPki pki_;
  std::unique_ptr<CertStore> store_;
};

TEST_F(Handshake, Tls13WithMetaCertLastInChain) {
  auto& store = store_for("localhost", {"localhost"});
  auto r = run_handshake(store.current(), ClientOptions{});
  ASSERT_TRUE(r.ok()) << r.client_error.message() << " / " << r.server_error.message();
  EXPECT_TRUE(r.tls13);
  EXPECT_EQ(r.server_sni, "localhost");
  ASSERT_EQ(r.peer_chain_cn.size(), 2u);
  EXPECT_EQ(r.peer_chain_cn[0], "localhost");
  EXPECT_EQ(r.peer_chain_sha256[0], store.cert_info()->sha256_hex);
  EXPECT_EQ(r.peer_chain_cn[1], "derpkey" + key_.to_hex());
  ASSERT_TRUE(r.meta_key);
  EXPECT_EQ(*r.meta_key, key_);
  EXPECT_TRUE(r.date_problems.empty()) << r.date_problems.front();
  EXPECT_EQ(r.alpn, "") << "no ALPN offered, none selected";
}

TEST_F(Handshake, IntermediatesAreSentInOrderBeforeTheMetaCert) {
  store_for("localhost", {"localhost"});
  // Append the CA as if it were an intermediate: the file's order must be kept verbatim.
  {
    std::ifstream ca(pki_.ca_cert);
    std::ofstream crt(pki_.leaf_cert, std::ios::app);
    crt << ca.rdbuf();
  }
  CertStore store(ServerTlsConfig{"manual", dir_.path(), "localhost", {}}, key_);
  auto r = run_handshake(store.current(), ClientOptions{});
  ASSERT_TRUE(r.ok()) << r.client_error.message();
  ASSERT_EQ(r.peer_chain_cn.size(), 3u);
  EXPECT_EQ(r.peer_chain_cn[0], "localhost");
  EXPECT_EQ(r.peer_chain_cn[1], "derpd test CA");
  EXPECT_EQ(r.peer_chain_cn[2], "derpkey" + key_.to_hex());
}

TEST_F(Handshake, AlpnPicksHttp11NeverH2) {
  auto& store = store_for("localhost", {"localhost"});
  ClientOptions both;
  both.alpn = {"h2", "http/1.1"};
  auto r = run_handshake(store.current(), both);
  ASSERT_TRUE(r.ok()) << r.client_error.message();
  EXPECT_EQ(r.alpn, "http/1.1");

  ClientOptions h2_only;
  h2_only.alpn = {"h2"};
  r = run_handshake(store.current(), h2_only);
  ASSERT_TRUE(r.ok()) << r.client_error.message();
  EXPECT_EQ(r.alpn, "");
}

TEST_F(Handshake, Tls12ClientConnects) {
  auto& store = store_for("localhost", {"localhost"});
  ClientOptions opts;
  opts.tls12_only = true;
  opts.alpn = {"http/1.1"};
  auto r = run_handshake(store.current(), opts);
  ASSERT_TRUE(r.ok()) << r.client_error.message() << " / " << r.server_error.message();
  EXPECT_EQ(r.version, TLS1_2_VERSION);
  EXPECT_FALSE(r.tls13);
  EXPECT_EQ(r.alpn, "http/1.1");
  // The meta cert is still sent; the client must not use it for fast start below TLS 1.3.
  EXPECT_TRUE(r.meta_key);
}

TEST_F(Handshake, SniMismatchRejectedForDnsHostname) {
  auto& store = store_for("localhost", {"localhost"});
  ClientOptions wrong;
  wrong.server_name = "other.example";
  auto r = run_handshake(store.current(), wrong);
  EXPECT_TRUE(r.client_error);
  EXPECT_TRUE(r.server_error);

  ClientOptions upper;
  upper.server_name = "LOCALHOST";
  EXPECT_TRUE(run_handshake(store.current(), upper).ok()) << "DNS names are case-insensitive";

  ClientOptions no_sni;
  no_sni.server_name = "127.0.0.1";  // an IP literal: the client sends no SNI
  r = run_handshake(store.current(), no_sni);
  EXPECT_TRUE(r.ok()) << r.server_error.message();
  EXPECT_EQ(r.server_sni, "");
}

TEST_F(Handshake, NoSniCheckForIpHostname) {
  auto& store = store_for("127.0.0.1", {"127.0.0.1"});
  ClientOptions any;
  any.server_name = "whatever.example";
  auto r = run_handshake(store.current(), any);
  EXPECT_TRUE(r.ok()) << r.client_error.message() << " / " << r.server_error.message();
  EXPECT_EQ(r.server_sni, "whatever.example");
}

// derper takes "-hostname localhost:8443" literally: clients send that as SNI and the
// certificate names it.
TEST_F(Handshake, HostnameWithPortIsTakenLiterally) {
  auto& store = store_for("localhost:8443", {"localhost:8443"});
  EXPECT_EQ(store.cert_path(), dir_.file("localhost8443.crt"));
  ClientOptions literal;
  literal.server_name = "localhost:8443";
  EXPECT_TRUE(run_handshake(store.current(), literal).ok());
  EXPECT_FALSE(run_handshake(store.current(), ClientOptions{}).ok()) << "SNI localhost";
}

TEST_F(Handshake, ProbeDateCheckFlagsLeafExpiringSoon) {
  pki_ = write_test_pki(dir_.path(), {"localhost"}, 3LL * 24 * 3600);
  CertStore store(ServerTlsConfig{"manual", dir_.path(), "localhost", {}}, key_);
  auto r = run_handshake(store.current(), ClientOptions{});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.date_problems.size(), 1u) << "the meta cert (SKI == AKI, both absent) is exempt";
  EXPECT_NE(r.date_problems[0].find("CN=localhost expires in "), std::string::npos)
      << r.date_problems[0];
}

}  // namespace
}  // namespace derp::tls
