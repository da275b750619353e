// What the node answers while a CA validates it: the challenge book the listeners read, the
// TLS-ALPN-01 certificate (RFC 8737 §3), the ClientHello extension readers (bytes from
// strangers), and the advice an operator reads when a validation fails.
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "relay/acme/advice.h"
#include "relay/acme/cert_manager.h"
#include "relay/acme/challenge_book.h"
#include "relay/acme/jws.h"
#include "relay/tls/acme_challenge.h"
#include "relay/tls/cert_fields.h"

namespace derp::acme {
namespace {

using std::chrono::seconds;

TEST(ChallengeBook, Http01AnswersOnlyWhilePending) {
  ChallengeBook book;
  EXPECT_FALSE(book.http01("tok"));
  book.add_http01("tok", "tok.thumb");
  EXPECT_EQ(book.http01("tok"), "tok.thumb");
  EXPECT_FALSE(book.http01("TOK"));  // tokens are case-sensitive
  book.remove_http01("tok");
  EXPECT_FALSE(book.http01("tok"));
}

TEST(ChallengeBook, TlsAlpn01IsLookedUpBySniAndIpsByTheirReverseName) {
  ChallengeBook book;
  auto dns = tls::make_tls_alpn01_cert("derp1.example.com", tls::Bytes32{});
  auto ip = tls::make_tls_alpn01_cert("192.0.2.7", tls::Bytes32{});
  book.add_tls_alpn01("Derp1.Example.com.", dns);
  book.add_tls_alpn01("192.0.2.7", ip);
  auto lookup = book.tls_alpn01_lookup();
  EXPECT_EQ(lookup("derp1.example.com"), dns);
  EXPECT_EQ(lookup("7.2.0.192.in-addr.arpa"), ip);
  EXPECT_EQ(lookup("192.0.2.7"), nullptr);  // RFC 8738 §6: the CA sends the reverse name
  EXPECT_EQ(lookup(""), nullptr);
  book.remove_tls_alpn01("derp1.example.com");
  EXPECT_EQ(lookup("derp1.example.com"), nullptr);
}

TEST(TlsAlpn01, CertificateCarriesTheCriticalAcmeIdentifierAndTheName) {
  const std::string key_auth = key_authorization("token", "thumb");
  const tls::Bytes32 digest = tls_alpn01_digest(key_auth);
  auto c = tls::make_tls_alpn01_cert("derp1.example.com", digest);
  EXPECT_EQ(tls::subject_alt_names(c->cert.get()),
            std::vector<std::string>{"DNS:derp1.example.com"});
  ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
  int at = X509_get_ext_by_OBJ(c->cert.get(), oid, -1);
  ASN1_OBJECT_free(oid);
  ASSERT_GE(at, 0);
  X509_EXTENSION* ext = X509_get_ext(c->cert.get(), at);
  EXPECT_EQ(X509_EXTENSION_get_critical(ext), 1);
  // The value is the DER OCTET STRING of the digest: 04 20 <32 bytes>.
  ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
  ASSERT_EQ(ASN1_STRING_length(value), 34);
  const unsigned char* der = ASN1_STRING_get0_data(value);
  EXPECT_EQ(der[0], 0x04);
  EXPECT_EQ(der[1], 0x20);
  EXPECT_TRUE(std::equal(digest.begin(), digest.end(), der + 2));

  auto ip = tls::make_tls_alpn01_cert("2001:db8::1", digest);
  EXPECT_EQ(tls::subject_alt_names(ip->cert.get()), std::vector<std::string>{"IP:2001:db8::1"});
}

TEST(TlsAlpn01, ReverseNames) {
  EXPECT_EQ(tls::reverse_dns_name("127.0.0.1"), "1.0.0.127.in-addr.arpa");
  EXPECT_EQ(tls::reverse_dns_name("2001:db8::567:89ab"),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_FALSE(tls::reverse_dns_name("derp.example.com"));
  EXPECT_FALSE(tls::reverse_dns_name(""));
}

std::vector<unsigned char> bytes(std::initializer_list<int> list) {
  std::vector<unsigned char> out;
  for (int b : list) out.push_back(static_cast<unsigned char>(b));
  return out;
}

TEST(ClientHelloExtensions, AlpnListIsReadWithinItsBounds) {
  // "h2", "acme-tls/1"
  auto both = bytes({0, 14, 2, 'h', '2', 10, 'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'});
  EXPECT_TRUE(tls::alpn_offers(both, "acme-tls/1"));
  EXPECT_TRUE(tls::alpn_offers(both, "h2"));
  EXPECT_FALSE(tls::alpn_offers(both, "http/1.1"));
  auto overrun = bytes({0, 3, 9, 'a', 'c'});  // a name longer than the list
  EXPECT_FALSE(tls::alpn_offers(overrun, "ac"));
  EXPECT_FALSE(tls::alpn_offers(bytes({0, 5, 2, 'h', '2'}), "h2"));  // list length lies
  EXPECT_FALSE(tls::alpn_offers({}, "h2"));
  EXPECT_FALSE(tls::alpn_offers(bytes({0, 1, 0}), ""));  // empty names are malformed
}

TEST(ClientHelloExtensions, ServerNameIsReadWithinItsBounds) {
  auto sni = bytes({0, 8, 0, 0, 5, 'a', '.', 'b', 'c', 'd'});
  EXPECT_EQ(tls::sni_host_name(sni), "a.bcd");
  EXPECT_EQ(tls::sni_host_name(bytes({0, 8, 0, 0, 9, 'a', '.', 'b', 'c', 'd'})), "");
  EXPECT_EQ(tls::sni_host_name(bytes({0, 2, 0, 0})), "");
  EXPECT_EQ(tls::sni_host_name({}), "");
}

TEST(Advice, NamesThePortTheCaCouldNotReach) {
  Problem p;
  p.type = "urn:ietf:params:acme:error:connection";
  p.detail = "Timeout during connect";
  auto http = challenge_advice(p, "derp1.example.com", "http-01");
  EXPECT_NE(http.find("TCP port 80"), std::string::npos) << http;
  EXPECT_NE(http.find("Timeout during connect"), std::string::npos) << http;
  auto alpn = challenge_advice(p, "derp1.example.com", "tls-alpn-01");
  EXPECT_NE(alpn.find("TCP port 443"), std::string::npos) << alpn;
  p.type = "urn:ietf:params:acme:error:dns";
  EXPECT_NE(challenge_advice(p, "x.example", "http-01").find("DNS A/AAAA records"),
            std::string::npos);
  p.type = "urn:ietf:params:acme:error:unauthorized";
  EXPECT_NE(request_advice(p, "creating the account").find("--acme-eab-key"), std::string::npos);
  p.type = "urn:ietf:params:acme:error:rateLimited";
  EXPECT_NE(request_advice(p, "creating the order").find("rate limited"), std::string::npos);
}

TEST(Advice, RetryAfterInSecondsOrAsAnHttpDate) {
  const auto now = std::chrono::system_clock::from_time_t(1'700'000'000);
  EXPECT_EQ(parse_retry_after("120", now), now + seconds(120));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            std::chrono::system_clock::from_time_t(1445412480));
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT trailing", now));
}

TEST(Renewal, WhenAThirdOfTheLifetimeIsLeft) {
  EXPECT_EQ(renewal_time(0, 90 * 86400), 60 * 86400);  // Let's Encrypt's 90 days: at day 60
  EXPECT_EQ(renewal_time(1000, 1000 + 6 * 86400), 1000 + 4 * 86400);  // short-lived: day 4
}

CertManagerConfig valid_config() {
  CertManagerConfig c;
  c.certmode = "letsencrypt";
  c.certdir = "/nonexistent";
  c.name = "derp1.example.com";
  return c;
}

std::string config_error(CertManagerConfig c) {
  try {
    check_cert_manager_config(std::move(c));
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(CertManagerConfig, DefaultsAndOperatorErrors) {
  EXPECT_EQ(check_cert_manager_config(valid_config()).directory_url, kLetsEncryptDirectory);
  auto gcp = valid_config();
  gcp.certmode = "gcp";
  EXPECT_NE(config_error(gcp).find("--acme-email"), std::string::npos);
  gcp.email = "ops@example.com";
  EXPECT_NE(config_error(gcp).find("--acme-eab-kid and --acme-eab-key"), std::string::npos);
  gcp.eab_kid = "kid";
  gcp.eab_key = "not base64!";
  EXPECT_NE(config_error(gcp).find("neither base64 nor base64url"), std::string::npos);
  gcp.eab_key = "c2VjcmV0";
  EXPECT_EQ(check_cert_manager_config(gcp).directory_url, kGcpDirectory);

  auto http = valid_config();
  http.challenge = "http-01";
  EXPECT_NE(config_error(http).find("--http-port"), std::string::npos);
  http.challenge = "dns-01";
  EXPECT_NE(config_error(http).find("auto, tls-alpn-01 or http-01"), std::string::npos);
  auto insecure = valid_config();
  insecure.directory_url = "http://ca.example/dir";
  EXPECT_NE(config_error(insecure).find("https://"), std::string::npos);
}

}  // namespace
}  // namespace derp::acme
