// CertStore: startup checks, the self-signed IP certificate, and hot reload (protocol §9.2).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "relay/files/atomic_file.h"
#include "relay/tls/acme_challenge.h"
#include "relay/tls/cert_fields.h"
#include "relay/tls/pem_files.h"
#include "relay/tls/server_context.h"
#include "relay/tls/test_ca.h"
#include "relay/tls/tls_error.h"
#include "tests/support/text_file.h"
#include "tests/unit/tls/tls_harness.h"

namespace derp::tls {
namespace {

using testing::ClientOptions;
using testing::run_handshake;
using testing::TempDir;

protocol::NodePublic test_key() {
  return protocol::NodePrivate::generate().public_key();
}

std::string error_of(const ServerTlsConfig& config) {
  try {
    CertStore store(config, test_key());
  } catch (const TlsError& e) {
    return e.what();
  }
  return "";
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(CertStore, LeafMustBeValidForHostname) {
  TempDir dir;
  auto pki = write_test_pki(dir.path(), {"localhost"});
  std::filesystem::rename(pki.leaf_cert, dir.file("other.example.crt"));
  std::filesystem::rename(pki.leaf_key, dir.file("other.example.key"));
  EXPECT_EQ(error_of({"manual", dir.path(), "other.example", {}}),
            "tls: certificate " + dir.file("other.example.crt") +
                " is not valid for hostname other.example (SANs: DNS:localhost)");
}

TEST(CertStore, OperatorErrors) {
  TempDir dir;
  EXPECT_NE(error_of({"manual", dir.path(), "derp.example.com", {}})
                .find("cannot read certificate file " + dir.file("derp.example.com.crt")),
            std::string::npos);
  EXPECT_NE(error_of({"selfsigned", dir.path(), "derp.example.com", {}}).find("unknown certmode"),
            std::string::npos);

  auto pki = write_test_pki(dir.path(), {"localhost"});
  auto other = write_test_pki(dir.file("other"), {"localhost"});
  std::filesystem::copy_file(other.leaf_key, pki.leaf_key,
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_NE(error_of({"manual", dir.path(), "localhost", {}}).find("does not match"),
            std::string::npos);

  std::filesystem::remove(pki.leaf_key);
  EXPECT_NE(error_of({"manual", dir.path(), "localhost", {}}).find("but not " + pki.leaf_key),
            std::string::npos);
}

TEST(CertStore, SelfSignedCertForIpHostname) {
  TempDir dir;
  auto key = test_key();
  CertStore store(ServerTlsConfig{"manual", dir.path(), "127.0.0.1", {}}, key);
  const std::string crt = dir.file("127.0.0.1.crt");
  const std::string pem_key = dir.file("127.0.0.1.key");
  EXPECT_EQ(mode_of(crt), 0644u);
  EXPECT_EQ(mode_of(pem_key), 0600u);

  auto chain = read_cert_chain_file(crt);
  ASSERT_EQ(chain.size(), 1u);
  X509* leaf = chain[0].get();
  std::string sha = der_sha256_hex(leaf);
  EXPECT_EQ(store.generated_node_json(),
            R"({"Name":"custom","RegionID":900,"HostName":"127.0.0.1","CertName":"sha256-raw:)" +
                sha + R"("})");
  EXPECT_EQ(store.cert_info()->sha256_hex, sha);
  EXPECT_EQ(store.cert_info()->sans, std::vector<std::string>{"IP:127.0.0.1"});
  EXPECT_EQ(common_name(leaf), "127.0.0.1");
  EXPECT_EQ(EVP_PKEY_get_id(X509_get0_pubkey(leaf)), EVP_PKEY_EC);
  EXPECT_EQ(X509_get_key_usage(leaf),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_extended_key_usage(leaf), static_cast<uint32_t>(XKU_SSL_SERVER));
  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr));
  EXPECT_LE(BN_num_bits(serial.get()), 128);
  EXPECT_GT(BN_num_bits(serial.get()), 64);  // random 128-bit: this fails with p = 2^-64
  std::int64_t lifetime = not_after_unix(leaf) - not_before_unix(leaf);
  EXPECT_EQ(lifetime, 365LL * 24 * 3600);

  // A HEAD client pinning that hash, without any CA, connects.
  ClientOptions pinned;
  pinned.server_name = "127.0.0.1";
  pinned.verify_peer = true;
  pinned.cert_name = "sha256-raw:" + sha;
  auto r = run_handshake(store.current(), pinned);
  EXPECT_TRUE(r.ok()) << r.client_error.message() << " / " << r.server_error.message();

  ClientOptions wrong_pin = pinned;
  wrong_pin.cert_name = "sha256-raw:" + std::string(64, '0');
  EXPECT_FALSE(run_handshake(store.current(), wrong_pin).ok());

  ClientOptions unpinned = pinned;
  unpinned.cert_name.clear();
  EXPECT_FALSE(run_handshake(store.current(), unpinned).ok()) << "self-signed, not trusted";

  // The next start reuses the files instead of generating new ones.
  CertStore again(ServerTlsConfig{"manual", dir.path(), "127.0.0.1", {}}, key);
  EXPECT_EQ(again.generated_node_json(), "");
  EXPECT_EQ(again.cert_info()->sha256_hex, sha);
}

// As derper: "127.0.0.1:8443" is a name. The operator's <certdir>/127.0.0.18443.crt is served,
// and with no files there is an error, not a self-signed certificate for 127.0.0.1.
TEST(CertStore, IpHostnameWithPortIsANameAsInDerper) {
  TempDir dir;
  EXPECT_THROW(CertStore(ServerTlsConfig{"manual", dir.path(), "127.0.0.1:8443", {}}, test_key()),
               TlsError);
  write_test_pki(dir.path(), {"127.0.0.1:8443"});
  CertStore store(ServerTlsConfig{"manual", dir.path(), "127.0.0.1:8443", {}}, test_key());
  EXPECT_EQ(store.cert_path(), dir.file("127.0.0.18443.crt"));
  EXPECT_EQ(store.generated_node_json(), "");
}

TEST(CertStore, ReloadPicksUpReplacedCertAndSurvivesBrokenFiles) {
  TempDir dir;
  write_test_pki(dir.path(), {"localhost"});
  CertStore store(ServerTlsConfig{"manual", dir.path(), "localhost", {}}, test_key());
  std::string error;
  EXPECT_FALSE(store.reload_if_changed(error));
  EXPECT_EQ(error, "");

  auto old_ctx = store.current();
  std::string old_sha = store.cert_info()->sha256_hex;
  write_test_pki(dir.path(), {"localhost"});  // rotation: new leaf (and CA) in place
  EXPECT_TRUE(store.reload_if_changed(error)) << error;
  std::string new_sha = store.cert_info()->sha256_hex;
  EXPECT_NE(new_sha, old_sha);
  EXPECT_NE(store.current(), old_ctx);

  auto r = run_handshake(store.current(), ClientOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.peer_chain_sha256[0], new_sha) << "new connections get the new leaf";
  r = run_handshake(old_ctx, ClientOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.peer_chain_sha256[0], old_sha) << "holders of the old context keep it";

  auto good_ctx = store.current();
  files::write_file_atomically(dir.file("localhost.crt"), "not a certificate\n", 0644);
  EXPECT_FALSE(store.reload_if_changed(error));
  EXPECT_NE(error.find("localhost.crt"), std::string::npos) << error;
  EXPECT_NE(error.find("keeping the previous certificate"), std::string::npos) << error;
  EXPECT_EQ(store.current(), good_ctx);
  EXPECT_EQ(store.cert_info()->sha256_hex, new_sha);
  r = run_handshake(store.current(), ClientOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.peer_chain_sha256[0], new_sha);

  error.clear();
  EXPECT_FALSE(store.reload_if_changed(error));
  EXPECT_EQ(error, "") << "the same broken files are reported once";

  std::filesystem::remove(dir.file("localhost.key"));
  EXPECT_FALSE(store.reload_if_changed(error));
  EXPECT_NE(error.find("cannot stat"), std::string::npos) << error;

  write_test_pki(dir.path(), {"localhost"});
  error.clear();
  EXPECT_TRUE(store.reload_if_changed(error)) << error;
  EXPECT_NE(store.cert_info()->sha256_hex, new_sha);
}

// ACME mode before the first certificate: a TLS-ALPN-01 validation gets its challenge certificate
// alone (no meta cert, ALPN acme-tls/1); every other handshake is refused; nothing else answers
// acme-tls/1. Once a certificate is issued, DERP clients get it with the meta cert.
TEST(CertStore, AcmeModeAnswersValidationsBeforeTheFirstCertificateAndServesTheIssuedOne) {
  TempDir dir;
  auto challenge = make_tls_alpn01_cert("localhost", Bytes32{});
  ServerTlsConfig config{"letsencrypt", dir.path(), "localhost", {}};
  config.acme_challenges = [challenge](std::string_view sni) {
    return sni == "localhost" ? challenge : nullptr;
  };
  CertStore store(config, test_key());
  EXPECT_FALSE(store.cert_info());

  EXPECT_FALSE(run_handshake(store.current(), ClientOptions{}).ok());
  ClientOptions validation;
  validation.alpn = {"acme-tls/1"};
  auto r = run_handshake(store.current(), validation);
  ASSERT_TRUE(r.ok()) << r.client_error.message() << " / " << r.server_error.message();
  EXPECT_EQ(r.alpn, "acme-tls/1");
  ASSERT_EQ(r.peer_chain_sha256.size(), 1u) << "the challenge certificate alone";
  EXPECT_EQ(r.peer_chain_sha256[0], der_sha256_hex(challenge->cert.get()));
  EXPECT_FALSE(r.meta_key);
  validation.server_name = "other.example";
  EXPECT_FALSE(run_handshake(store.current(), validation).ok()) << "no challenge for that name";

  auto pki = write_test_pki(dir.file("issued"), {"localhost"});
  store.install_issued(derp::testing::read_text_file(pki.leaf_cert),
                       derp::testing::read_text_file(pki.leaf_key));
  ASSERT_TRUE(store.cert_info());
  r = run_handshake(store.current(), ClientOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.peer_chain_sha256[0], store.cert_info()->sha256_hex);
  EXPECT_TRUE(r.meta_key) << "the meta cert is appended in every mode";
  EXPECT_EQ(r.alpn, "");
  EXPECT_EQ(mode_of(dir.file("localhost.key")), 0600u);
  EXPECT_EQ(derp::testing::read_text_file(dir.file("localhost.crt")),
            derp::testing::read_text_file(pki.leaf_cert));

  // A certificate for another name is refused and changes nothing.
  auto other = write_test_pki(dir.file("other"), {"other.example"});
  const std::string served = store.cert_info()->sha256_hex;
  EXPECT_THROW(store.install_issued(derp::testing::read_text_file(other.leaf_cert),
                                    derp::testing::read_text_file(other.leaf_key)),
               TlsError);
  EXPECT_EQ(store.cert_info()->sha256_hex, served);
  EXPECT_EQ(derp::testing::read_text_file(dir.file("localhost.crt")),
            derp::testing::read_text_file(pki.leaf_cert));

  // A restart serves the stored certificate at once.
  CertStore again(config, test_key());
  ASSERT_TRUE(again.cert_info());
  EXPECT_EQ(again.cert_info()->sha256_hex, served);
}

// Switching from derper: its autocert cache keeps key and chain in one file named after the host.
TEST(CertStore, AcmeModeTakesOverDerpersAutocertFile) {
  TempDir dir;
  auto pki = write_test_pki(dir.file("derper"), {"localhost"});
  files::write_file_atomically(
      dir.file("localhost"),
      derp::testing::read_text_file(pki.leaf_key) + derp::testing::read_text_file(pki.leaf_cert),
      0600);
  CertStore store(ServerTlsConfig{"letsencrypt", dir.path(), "localhost", {}}, test_key());
  ASSERT_TRUE(store.cert_info());
  EXPECT_EQ(derp::testing::read_text_file(dir.file("localhost.crt")),
            derp::testing::read_text_file(pki.leaf_cert));
  EXPECT_EQ(mode_of(dir.file("localhost.key")), 0600u);
  EXPECT_TRUE(run_handshake(store.current(), ClientOptions{}).ok());
}

}  // namespace
}  // namespace derp::tls
