// --certmode letsencrypt against a real ACME server: Debian's pebble, with pebble-challtestsrv
// resolving every name to 127.0.0.1 so that pebble validates the derpd under test (no mock CA, no
// traffic off the machine). derpd obtains its certificate over TLS-ALPN-01 or HTTP-01, a DERP
// client that trusts only pebble's issuing root relays through it, renewals keep open connections
// and reach new handshakes, a restart reuses the stored certificate, and failures (CA down,
// External Account Binding refused) are logged in plain words while derpd keeps running.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include "relay/client/derp_client.h"
#include "relay/tls/cert_fields.h"
#include "tests/support/async_runner.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/pebble.h"
#include "tests/support/text_file.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using client::DerpClient;
using std::chrono::seconds;

constexpr const char* kName = "derp1.acme.test";

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

// The SHA-256 of the leaf certificate a new TLS handshake with 127.0.0.1:port is shown, offering
// `sni` (none when empty) and verifying nothing: which certificate is served, not whether it is
// trusted (the DERP clients below check that).
std::string served_leaf_sha256(std::uint16_t port, const std::string& sni) {
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  asio::ssl::stream<asio::ip::tcp::socket> stream(io, ctx);
  stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  if (!sni.empty()) SSL_set_tlsext_host_name(stream.native_handle(), sni.c_str());
  stream.handshake(asio::ssl::stream_base::client);
  X509* leaf = SSL_get_peer_certificate(stream.native_handle());
  std::string sha = tls::der_sha256_hex(leaf);
  X509_free(leaf);
  return sha;
}

class AcmeNode : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access("/usr/bin/pebble", X_OK), 0)
        << "pebble is missing: scripts/install-deps.sh installs it";
    tls_port_ = free_port();
    http_port_ = free_port();
  }

  PebbleOptions pebble_options() const {
    PebbleOptions p;
    p.tls_port = tls_port_;
    p.http_port = http_port_;
    return p;
  }

  std::vector<std::string> flags(const Pebble& pebble, const std::string& challenge,
                                 const std::string& hostname = kName) const {
    return {"-a",
            "127.0.0.1:" + std::to_string(tls_port_),
            "--tls",
            "--certmode",
            "letsencrypt",
            "--hostname",
            hostname,
            "--certdir",
            certdir(),
            "--acme-directory-url",
            pebble.directory_url(),
            "--acme-ca-file",
            pebble.api_ca_file(),
            "--acme-email",
            "ops@acme.test",
            "--acme-challenge",
            challenge,
            "--http-port",
            std::to_string(http_port_),
            "--stun=false",
            "-c",
            dir_.path() + "/node.key",
            "--admin-socket",
            admin_socket()};
  }
  std::string certdir() const { return dir_.path() + "/certs"; }
  // Runs a node until it has its first certificate, then stops it. Returns the SHA-256 of the
  // certificate it served, "" (the test has failed) when none came.
  std::string certify_once(const Pebble& pebble, const std::string& challenge) {
    DerpdProcess node(flags(pebble, challenge));
    return certified(node, pebble) ? served_leaf_sha256(tls_port_, kName) : "";
  }
  // Runs derpctl against the node's admin socket; its output lands in printed_.
  int derpctl(const std::string& args) {
    const std::string binary = DerpdProcess::binary();
    const std::string out = dir_.path() + "/derpctl.out";
    const std::string command = binary.substr(0, binary.rfind('/')) +
                                "/derpctl --admin unix:" + admin_socket() + " " + args + " > " +
                                out + " 2>&1";
    int status = std::system(command.c_str());
    printed_ = read_text_file(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string admin_socket() const { return dir_.path() + "/admin.sock"; }

  static bool installed(const DerpdProcess& node, std::size_t times = 1) {
    return count_occurrences(node.log(), "serving it to new connections") >= times;
  }
  // Waits for the node's first certificate; fails the test with both logs when none comes.
  static bool certified(const DerpdProcess& node, const Pebble& pebble) {
    if (eventually([&] { return installed(node); }, seconds(60))) return true;
    ADD_FAILURE() << "no certificate within 60 s\nderpd:\n"
                  << node.log() << "\npebble:\n"
                  << pebble.log();
    return false;
  }

  // A DERP client of the node that trusts only `root` and verifies `host`.
  client::ClientOptions client_options(const std::string& host, const std::string& root) const {
    client::ClientOptions o;
    o.url = "https://" + host + ":" + std::to_string(tls_port_) + "/derp";
    o.dial_host = "127.0.0.1";
    o.ca_file = root;
    o.key = protocol::NodePrivate::generate();
    return o;
  }

  // Two clients that trust only `root` relay a packet each way through the node.
  void expect_relays(const std::string& host, const std::string& root) {
    runner_.run([&]() -> asio::awaitable<void> {
      auto ex = co_await asio::this_coro::executor;
      client::ClientOptions o = client_options(host, root);
      auto a = co_await DerpClient::connect(ex, o);
      o.key = protocol::NodePrivate::generate();
      auto b = co_await DerpClient::connect(ex, o);
      co_await a->send_packet(b->public_key(), numbered_packet(1, 1200));
      auto p = co_await next_packet(*b);
      EXPECT_EQ(p.src, a->public_key());
      EXPECT_EQ(p.data, numbered_packet(1, 1200));
      co_await b->send_packet(a->public_key(), numbered_packet(2, 64));
      EXPECT_EQ((co_await next_packet(*a)).data, numbered_packet(2, 64));
    }());
  }

  TempDir dir_;
  std::string printed_;
  AsyncRunner runner_;
  std::uint16_t tls_port_ = 0;
  std::uint16_t http_port_ = 0;
};

// Each challenge the node can answer, and the line its log says it with.
struct ChallengeCase {
  const char* name;
  const char* answered;
};
constexpr ChallengeCase kTlsAlpn01{"tls-alpn-01", "answered a TLS-ALPN-01 validation"};
constexpr ChallengeCase kHttp01{"http-01", "answered the HTTP-01 challenge for token"};

class AcmeChallenge : public AcmeNode, public ::testing::WithParamInterface<ChallengeCase> {};

TEST_P(AcmeChallenge, ObtainsACertificateThatDerpClientsTrustAndRelaysThroughIt) {
  const ChallengeCase& want = GetParam();
  const ChallengeCase& other = std::string(want.name) == kHttp01.name ? kTlsAlpn01 : kHttp01;
  Pebble pebble(dir_.path(), pebble_options());
  pebble.start();
  DerpdProcess node(flags(pebble, want.name));
  ASSERT_TRUE(certified(node, pebble));
  EXPECT_NE(node.log().find(want.answered), std::string::npos) << node.log();
  EXPECT_EQ(node.log().find(other.answered), std::string::npos) << node.log();
  expect_relays(kName, pebble.issuing_root_file());
  EXPECT_EQ(mode_of(certdir() + "/" + kName + ".key"), 0600u);
  EXPECT_EQ(mode_of(certdir() + "/acme-account.key"), 0600u);
  EXPECT_EQ(pebble.orders(), 1);
  // The port-80 listener answers no token nobody asked for.
  EXPECT_NE(http_get(http_port_, "/.well-known/acme-challenge/AAAAAAAAAAAAAAAAAAAA")
                .find("404 page not found"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Challenges, AcmeChallenge, ::testing::Values(kTlsAlpn01, kHttp01),
                         [](const auto& info) {
                           return std::string(info.param.name) == kHttp01.name ? "Http01"
                                                                               : "TlsAlpn01";
                         });

TEST_F(AcmeNode, ARestartServesTheStoredCertificateWithoutANewOrder) {
  Pebble pebble(dir_.path(), pebble_options());
  pebble.start();
  const std::string first_sha = certify_once(pebble, "auto");
  ASSERT_FALSE(first_sha.empty());
  ASSERT_EQ(pebble.orders(), 1);
  DerpdProcess again(flags(pebble, "auto"));
  // The manager has looked at the stored certificate and found nothing due.
  ASSERT_TRUE(eventually([&] {
    return again.log().find("the stored certificate for") != std::string::npos;
  })) << again.log();
  EXPECT_EQ(served_leaf_sha256(tls_port_, kName), first_sha);
  EXPECT_EQ(pebble.orders(), 1) << again.log();
  expect_relays(kName, pebble.issuing_root_file());
}

TEST_F(AcmeNode, RenewsBeforeExpiryWhileOpenConnectionsKeepRelaying) {
  PebbleOptions p = pebble_options();
  p.validity_seconds = 24;  // renewed once 16 s have passed
  Pebble pebble(dir_.path(), p);
  pebble.start();
  DerpdProcess node(flags(pebble, "tls-alpn-01"));
  ASSERT_TRUE(certified(node, pebble));
  const std::string first_sha = served_leaf_sha256(tls_port_, kName);
  const std::string root = pebble.issuing_root_file();

  runner_.run(
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        client::ClientOptions o = client_options(kName, root);
        auto a = co_await DerpClient::connect(ex, o);
        o.key = protocol::NodePrivate::generate();
        auto b = co_await DerpClient::connect(ex, o);
        // Packets go both ways on the connections made under the first certificate until the
        // second one is served, and a while after: every one arrives.
        std::uint32_t seq = 0;
        asio::steady_timer tick(ex);
        int after_renewal = 0;
        while (after_renewal < 20) {
          co_await a->send_packet(b->public_key(), numbered_packet(seq, 600));
          auto p = co_await next_packet(*b);
          EXPECT_EQ(p.data, numbered_packet(seq, 600)) << "packet " << seq;
          ++seq;
          if (installed(node, 2)) ++after_renewal;
          tick.expires_after(std::chrono::milliseconds(100));
          co_await tick.async_wait(asio::use_awaitable);
        }
        EXPECT_GT(seq, 20u);
      }(),
      seconds(90));
  EXPECT_NE(served_leaf_sha256(tls_port_, kName), first_sha) << node.log();
  expect_relays(kName, pebble.issuing_root_file());
  EXPECT_GE(pebble.orders(), 2);
}

TEST_F(AcmeNode, ACaThatIsDownAtStartIsRetriedAndTheRenewalCommandSucceedsOnceItIsBack) {
  Pebble pebble(dir_.path(), pebble_options());
  // derpd starts while pebble is not running: plain endpoints and the admin API work, TLS is
  // refused, the log says what is wrong and when it retries.
  DerpdProcess node(flags(pebble, "tls-alpn-01"));
  ASSERT_TRUE(eventually([&] {
    return node.log().find("could not obtain a certificate") != std::string::npos;
  })) << node.log();
  EXPECT_NE(node.log().find("cannot reach the CA"), std::string::npos) << node.log();
  EXPECT_NE(node.log().find("retrying in 60 s"), std::string::npos) << node.log();
  EXPECT_NE(http_get(http_port_, "/generate_204"), "") << "port 80 serves at once";
  EXPECT_THROW(served_leaf_sha256(tls_port_, kName), std::exception);

  pebble.start();
  ASSERT_EQ(derpctl("cert renew"), 0) << printed_ << node.log();
  EXPECT_NE(printed_.find("renewed: issued by"), std::string::npos) << printed_;
  EXPECT_NE(printed_.find("DNS:" + std::string(kName)), std::string::npos) << printed_;
  ASSERT_EQ(derpctl("status"), 0) << printed_;
  EXPECT_NE(printed_.find("letsencrypt"), std::string::npos) << printed_;
  EXPECT_NE(printed_.find(pebble.directory_url()), std::string::npos) << printed_;
  EXPECT_NE(printed_.find(" ok: issued by"), std::string::npos) << printed_;
  expect_relays(kName, pebble.issuing_root_file());
}

TEST_F(AcmeNode, ExternalAccountBindingIsRequiredCheckedAndAcceptedInBothBase64Forms) {
  PebbleOptions p = pebble_options();
  p.eab_required = true;
  // 32 bytes whose base64url and standard base64 differ ('-' and '_' against '+' and '/').
  const std::string key_url = "-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8";
  const std::string key_std = "+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8=";
  p.eab_keys = {{"kid-1", key_url}};
  Pebble pebble(dir_.path(), p);
  pebble.start();
  {
    DerpdProcess node(flags(pebble, "tls-alpn-01"));
    EXPECT_TRUE(eventually([&] {
      return node.log().find("requires External Account Binding") != std::string::npos;
    })) << node.log();
  }
  {
    auto wrong = flags(pebble, "tls-alpn-01");
    wrong.insert(wrong.end(), {"--acme-eab-kid", "kid-1", "--acme-eab-key",
                               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"});
    DerpdProcess node(wrong);
    EXPECT_TRUE(eventually([&] {
      return node.log().find("check --acme-eab-kid and --acme-eab-key") != std::string::npos;
    })) << node.log();
    int status = 0;
    EXPECT_FALSE(node.exited(status)) << "a refused account is no reason to exit";
  }
  auto right = flags(pebble, "tls-alpn-01");
  right.insert(right.end(), {"--acme-eab-kid", "kid-1", "--acme-eab-key", key_std});
  DerpdProcess node(right);
  ASSERT_TRUE(certified(node, pebble));
  expect_relays(kName, pebble.issuing_root_file());
}

TEST_F(AcmeNode, AnIpHostnameIsCertifiedWithAcmeIpCerts) {
  Pebble pebble(dir_.path(), pebble_options());
  pebble.start();
  auto ip_flags = flags(pebble, "tls-alpn-01", "127.0.0.1");
  ip_flags.push_back("--acme-ip-certs");
  DerpdProcess node(ip_flags);
  ASSERT_TRUE(certified(node, pebble));
  // RFC 8738: the CA validated 127.0.0.1 with the reverse name as SNI; clients dial the IP, send
  // no SNI and check the IP SAN.
  expect_relays("127.0.0.1", pebble.issuing_root_file());
  EXPECT_EQ(mode_of(certdir() + "/127.0.0.1.key"), 0600u);
}

// derper's --acme-ip-certs beside a DNS hostname: a handshake without a name first gets the
// hostname's certificate and makes the node obtain one for the address it arrived on; from then
// on such handshakes get that one, and the hostname's SNI still gets the hostname's.
TEST_F(AcmeNode, AcmeIpCertsBesideADnsNameCertifyTheAddressHandshakesArriveOn) {
  Pebble pebble(dir_.path(), pebble_options());
  pebble.start();
  auto ip_flags = flags(pebble, "tls-alpn-01");
  ip_flags.push_back("--acme-ip-certs");
  DerpdProcess node(ip_flags);
  ASSERT_TRUE(certified(node, pebble));
  const std::string hostname_sha = served_leaf_sha256(tls_port_, kName);
  EXPECT_EQ(served_leaf_sha256(tls_port_, ""), hostname_sha);
  ASSERT_TRUE(eventually([&] { return installed(node, 2); }, seconds(60))) << node.log();
  EXPECT_NE(node.log().find("certificate for 127.0.0.1 issued by"), std::string::npos)
      << node.log();
  EXPECT_NE(served_leaf_sha256(tls_port_, ""), hostname_sha);
  EXPECT_EQ(served_leaf_sha256(tls_port_, kName), hostname_sha);
  expect_relays("127.0.0.1", pebble.issuing_root_file());
  expect_relays(kName, pebble.issuing_root_file());
  EXPECT_EQ(mode_of(certdir() + "/127.0.0.1.key"), 0600u);
  ASSERT_EQ(derpctl("status"), 0) << printed_;
  EXPECT_NE(printed_.find("IP:127.0.0.1"), std::string::npos) << printed_;
  EXPECT_NE(printed_.find("DNS:" + std::string(kName)), std::string::npos) << printed_;
}

// A renewal whose validation fails (the CA cannot reach port 80) says which port to open, and the
// certificate served until then keeps serving.
TEST_F(AcmeNode, AFailedValidationKeepsTheCurrentCertificateAndSaysWhichPortToOpen) {
  Pebble pebble(dir_.path(), pebble_options());
  pebble.start();
  const std::string served = certify_once(pebble, "tls-alpn-01");
  ASSERT_FALSE(served.empty());
  PebbleOptions unreachable = pebble_options();
  unreachable.http_port = free_port();  // nothing listens there
  Pebble other(dir_.path() + "/other", unreachable);
  other.start();
  DerpdProcess node(flags(other, "http-01"));
  ASSERT_TRUE(eventually([&] {
    return node.log().find("the stored certificate for") != std::string::npos;
  })) << node.log();
  EXPECT_EQ(derpctl("cert renew"), 1) << printed_;
  EXPECT_NE(printed_.find("could not connect to " + std::string(kName) + " on TCP port 80"),
            std::string::npos)
      << printed_;
  EXPECT_NE(printed_.find("keeps serving its current certificate"), std::string::npos) << printed_;
  EXPECT_EQ(served_leaf_sha256(tls_port_, kName), served);
  expect_relays(kName, pebble.issuing_root_file());
  ASSERT_EQ(derpctl("status"), 0);
  EXPECT_NE(printed_.find("FAILED: the CA could not connect"), std::string::npos) << printed_;
}

// Pebble refuses 25 % of nonces; three issuances (start and two renewals asked with derpctl, some
// 25 signed requests) all succeed, and derpd says it retried. (At 40 % a CI run once saw eleven
// refusals in a row on one finalize, more than derpd's ten retries: a coin, not a bug. At 25 % no
// refusal at all in 25 requests is under 1 in 1,000, eleven in a row about 1 in 4 million.)
TEST_F(AcmeNode, RefusedNoncesAreRetried) {
  PebbleOptions p = pebble_options();
  p.nonce_reject_percent = 25;
  Pebble pebble(dir_.path(), p);
  pebble.start();
  DerpdProcess node(flags(pebble, "http-01"));
  ASSERT_TRUE(certified(node, pebble));
  for (int i = 0; i < 2; ++i) EXPECT_EQ(derpctl("cert renew"), 0) << node.log();
  EXPECT_TRUE(installed(node, 3)) << node.log();
  EXPECT_NE(node.log().find("the CA refused a nonce"), std::string::npos)
      << "pebble refused no nonce: the test proves nothing";
}

}  // namespace
}  // namespace derp::testing
