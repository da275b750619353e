// The ACME client's signed requests and challenge answers (relay/acme/jws.h). The fixed values
// were computed with Python's `cryptography` and `hashlib`, an implementation independent of
// OpenSSL's use here: a key's point, a signature to verify, a thumbprint, an HMAC.
#include "relay/acme/jws.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "relay/tls/cert_builder.h"
#include "relay/tls/tls_error.h"

namespace derp::acme {
namespace {

constexpr const char* kPrivateHex =
    "6543fac42102beab0fe0d41624a1a839195adad7d733f61416d7debc2cf771c7";
constexpr const char* kX = "Ewjgnn-mJdwidk3yHgqCqDfS2jpyBOkQmyHS8h56c1Y";
constexpr const char* kY = "RyiUICCe_RumNBlVr3_CbM9g_eAozw0nwWCvkJfsryk";
constexpr const char* kThumbprint = "Fn_izaUxP__pFqo4gj1Dr7KOVVCY-xpjDXx8Z5CqeeE";
constexpr const char* kPythonSignature =  // over "eyJhbGciOiJFUzI1NiJ9.aGVsbG8"
    "V5PQhrsnFkurGXpzPOX78oFGOb2VMN8nrNODl0VGFrhrhqLu-3-aH16FqZrIcrg87cO3UHoD4w9coruqtbCAzQ";

tls::Bytes32 private_scalar() {
  tls::Bytes32 d{};
  for (std::size_t i = 0; i < d.size(); ++i) {
    d[i] = static_cast<std::uint8_t>(std::stoi(std::string(kPrivateHex + 2 * i, 2), nullptr, 16));
  }
  return d;
}

std::string b64(std::string_view text) {
  auto bytes = decode_base64_any(text);
  return bytes ? std::string(bytes->begin(), bytes->end()) : "<invalid>";
}

TEST(Base64Url, EncodesWithoutPaddingAndDecodesEitherAlphabet) {
  EXPECT_EQ(base64url(std::string_view("")), "");
  EXPECT_EQ(base64url(std::string_view("f")), "Zg");
  EXPECT_EQ(base64url(std::string_view("fo")), "Zm8");
  EXPECT_EQ(base64url(std::string_view("foo")), "Zm9v");
  EXPECT_EQ(base64url(std::string_view("\xfb\xff", 2)), "-_8");
  EXPECT_EQ(b64("-_8"), std::string("\xfb\xff", 2));
  EXPECT_EQ(b64("+/8="), std::string("\xfb\xff", 2));  // standard alphabet with padding
  EXPECT_EQ(b64("Zm9vYmFy"), "foobar");
  EXPECT_FALSE(decode_base64_any("Zm9v!"));
  EXPECT_FALSE(decode_base64_any("Z"));
  EXPECT_FALSE(decode_base64_any("Zh"));  // non-zero padding bits
}

TEST(Jwk, PointThumbprintAndSignaturesMatchAnIndependentImplementation) {
  auto key = tls::p256_key_from_private(private_scalar());
  const auto point = tls::p256_public_point(key.get());
  EXPECT_EQ(base64url(point.x), kX);
  EXPECT_EQ(base64url(point.y), kY);
  EXPECT_EQ(jwk_json(point),
            std::string(R"({"crv":"P-256","kty":"EC","x":")") + kX + R"(","y":")" + kY + R"("})");
  EXPECT_EQ(jwk_thumbprint(point), kThumbprint);

  auto public_key = tls::p256_public_key(point);
  const auto python = *decode_base64_any(kPythonSignature);
  EXPECT_TRUE(tls::es256_verify(public_key.get(), "eyJhbGciOiJFUzI1NiJ9.aGVsbG8", python));
  EXPECT_FALSE(tls::es256_verify(public_key.get(), "eyJhbGciOiJFUzI1NiJ9.aGVsbG9", python));
  const auto ours = tls::es256_sign(key.get(), "signing input");
  EXPECT_TRUE(tls::es256_verify(public_key.get(), "signing input", ours));
  auto other = tls::generate_p256_key();
  EXPECT_FALSE(tls::es256_verify(other.get(), "signing input", ours));
}

TEST(Jwk, RefusesKeysThatAreNotP256) {
  tls::P256Point off_curve;
  off_curve.x[31] = 1;
  off_curve.y[31] = 1;
  EXPECT_THROW(tls::p256_public_key(off_curve), tls::TlsError);
}

TEST(SignRequest, CarriesTheJwkOrTheKidAndVerifies) {
  auto key = tls::p256_key_from_private(private_scalar());
  auto public_key = tls::p256_public_key(tls::p256_public_point(key.get()));
  const std::string with_jwk =
      sign_request(key.get(), "", "nonce-1", "https://ca.example/acme/new-acct",
                   R"({"termsOfServiceAgreed":true})");
  auto body = nlohmann::json::parse(with_jwk);
  auto header = nlohmann::json::parse(b64(body["protected"].get<std::string>()));
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["nonce"], "nonce-1");
  EXPECT_EQ(header["url"], "https://ca.example/acme/new-acct");
  EXPECT_EQ(header["jwk"]["x"], kX);
  EXPECT_FALSE(header.contains("kid"));
  EXPECT_EQ(b64(body["payload"].get<std::string>()), R"({"termsOfServiceAgreed":true})");
  const std::string input =
      body["protected"].get<std::string>() + "." + body["payload"].get<std::string>();
  EXPECT_TRUE(tls::es256_verify(public_key.get(), input,
                                *decode_base64_any(body["signature"].get<std::string>())));

  const std::string as_get = sign_request(key.get(), "https://ca.example/acme/acct/1", "n2",
                                          "https://ca.example/acme/order/7", "");
  body = nlohmann::json::parse(as_get);
  header = nlohmann::json::parse(b64(body["protected"].get<std::string>()));
  EXPECT_EQ(header["kid"], "https://ca.example/acme/acct/1");
  EXPECT_FALSE(header.contains("jwk"));
  EXPECT_EQ(body["payload"], "");  // POST-as-GET
}

TEST(ExternalAccountBinding, IsTheJwkMacedUnderTheCasKey) {
  const auto point = tls::p256_public_point(tls::p256_key_from_private(private_scalar()).get());
  const std::vector<std::uint8_t> mac_key{'k', 'e', 'y'};
  auto binding = nlohmann::json::parse(
      external_account_binding(point, "kid-1", mac_key, "https://ca.example/new-acct"));
  auto header = nlohmann::json::parse(b64(binding["protected"].get<std::string>()));
  EXPECT_EQ(header["alg"], "HS256");
  EXPECT_EQ(header["kid"], "kid-1");
  EXPECT_EQ(header["url"], "https://ca.example/new-acct");
  EXPECT_EQ(b64(binding["payload"].get<std::string>()), jwk_json(point));
  const std::string input =
      binding["protected"].get<std::string>() + "." + binding["payload"].get<std::string>();
  EXPECT_EQ(binding["signature"], base64url(tls::hmac_sha256(mac_key, input)));
  // HMAC-SHA256("key", "data"), computed with Python's hmac.
  EXPECT_EQ(base64url(tls::hmac_sha256(mac_key, "data")),
            "UDH-PZicbRU3oBP6bnOdojRj_a7DtwE32Cjjas4iG9A");
}

TEST(Challenges, KeyAuthorizationDigestAndPath) {
  EXPECT_EQ(key_authorization("tok", kThumbprint), std::string("tok.") + kThumbprint);
  // SHA-256 of
  // "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.Y4pLLYQ8-ZRYEU4mJvgJRKONaRmmBbXwsMRHcRE4aWg"
  // (hashlib).
  const auto digest = tls_alpn01_digest(
      "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.Y4pLLYQ8-ZRYEU4mJvgJRKONaRmmBbXwsMRHcRE4aWg");
  std::string hex;
  for (auto b : digest) {
    static constexpr char kHex[] = "0123456789abcdef";
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  EXPECT_EQ(hex, "3bcb8067f8333e478b90a062dc0b11c4adb4c08f75be24378b6b8a2c5acee3b1");
  EXPECT_EQ(http01_path("abc_-9"), "/.well-known/acme-challenge/abc_-9");
  EXPECT_TRUE(valid_token("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"));
  for (const char* bad : {"", "a/b", "a.b", "../x", "a+b", "a b"}) {
    EXPECT_FALSE(valid_token(bad)) << bad;
  }
  EXPECT_FALSE(valid_token(std::string(257, 'a')));
}

// The CSR as OpenSSL's own command line reads it: valid signature, every name a SAN.
TEST(Csr, CarriesEveryNameAndASignatureOpensslAccepts) {
  auto key = tls::generate_p256_key();
  const auto der = tls::make_csr_der(key.get(), {"derp.example.com", "192.0.2.1", "2001:db8::1"});
  char dir_template[] = "/tmp/acme-csr-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  std::ofstream(dir + "/req.der", std::ios::binary)
      .write(reinterpret_cast<const char*>(der.data()), static_cast<std::streamsize>(der.size()));
  const std::string cmd = "openssl req -inform DER -in " + dir +
                          "/req.der -noout -verify -text > " + dir + "/out.txt 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(dir + "/out.txt");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::system(("rm -rf " + dir).c_str());
  EXPECT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("verify OK"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:derp.example.com"), std::string::npos) << text;
  EXPECT_NE(text.find("IP Address:192.0.2.1"), std::string::npos) << text;
  EXPECT_NE(text.find("IP Address:2001:DB8:0:0:0:0:0:1"), std::string::npos) << text;
  EXPECT_THROW(tls::make_csr_der(key.get(), {}), tls::TlsError);
}

}  // namespace
}  // namespace derp::acme
