// The CA's JSON as the ACME client reads it (relay/acme/messages.h): RFC 8555's examples, what
// pebble and Let's Encrypt add, and what a broken or hostile server could send.
#include "relay/acme/messages.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace derp::acme {
namespace {

TEST(AcmeMessages, ReadsADirectoryWithItsMeta) {
  auto d = parse_directory(R"({
    "newNonce": "https://ca.example/acme/new-nonce",
    "newAccount": "https://ca.example/acme/new-acct",
    "newOrder": "https://ca.example/acme/new-order",
    "revokeCert": "https://ca.example/acme/revoke-cert",
    "keyChange": "https://ca.example/acme/key-change",
    "meta": {"termsOfService": "https://ca.example/tos.pdf", "externalAccountRequired": true,
             "caaIdentities": ["ca.example"]},
    "randomKey123": "https://community.letsencrypt.org/t/adding-random-entries-to-the-directory"
  })");
  ASSERT_TRUE(d.value) << d.error;
  EXPECT_EQ(d.value->new_order, "https://ca.example/acme/new-order");
  EXPECT_EQ(d.value->terms_of_service, "https://ca.example/tos.pdf");
  EXPECT_TRUE(d.value->external_account_required);
  auto without_meta = parse_directory(R"({"newNonce":"n","newAccount":"a","newOrder":"o"})");
  ASSERT_TRUE(without_meta.value) << without_meta.error;
  EXPECT_FALSE(without_meta.value->external_account_required);
}

TEST(AcmeMessages, ReadsAnOrderAndItsAuthorization) {
  auto o = parse_order(R"({
    "status": "pending", "expires": "2026-12-08T00:00:00Z",
    "identifiers": [{"type": "dns", "value": "derp1.example.com"}, {"type": "ip", "value": "192.0.2.1"}],
    "authorizations": ["https://ca.example/authz/1", "https://ca.example/authz/2"],
    "finalize": "https://ca.example/order/7/finalize"
  })");
  ASSERT_TRUE(o.value) << o.error;
  EXPECT_EQ(o.value->status, "pending");
  ASSERT_EQ(o.value->identifiers.size(), 2u);
  EXPECT_EQ(o.value->identifiers[1], (Identifier{"ip", "192.0.2.1"}));
  EXPECT_EQ(o.value->authorizations.size(), 2u);
  EXPECT_EQ(o.value->certificate, "");
  EXPECT_FALSE(o.value->error);

  auto a = parse_authorization(R"({
    "identifier": {"type": "dns", "value": "derp1.example.com"},
    "status": "pending",
    "challenges": [
      {"type": "http-01", "url": "https://ca.example/chall/a", "status": "pending", "token": "tokA"},
      {"type": "tls-alpn-01", "url": "https://ca.example/chall/b", "status": "pending", "token": "tokB"},
      {"type": "dns-01", "url": "https://ca.example/chall/c", "status": "pending", "token": "tokC"}
    ]
  })");
  ASSERT_TRUE(a.value) << a.error;
  ASSERT_NE(a.value->challenge("tls-alpn-01"), nullptr);
  EXPECT_EQ(a.value->challenge("tls-alpn-01")->token, "tokB");
  EXPECT_EQ(a.value->challenge("no-such-01"), nullptr);
}

TEST(AcmeMessages, ProblemsReadAsOneLineWithTheirSubproblems) {
  auto p = parse_problem(R"({
    "type": "urn:ietf:params:acme:error:rejectedIdentifier", "status": 400,
    "detail": "Error creating new order",
    "subproblems": [
      {"type": "urn:ietf:params:acme:error:malformed", "detail": "Invalid underscore in DNS name",
       "identifier": {"type": "dns", "value": "_example.org"}}
    ]
  })");
  ASSERT_TRUE(p.value) << p.error;
  EXPECT_EQ(p.value->status, 400);
  EXPECT_EQ(p.value->short_type(), "rejectedIdentifier");
  EXPECT_EQ(p.value->text(),
            "rejectedIdentifier: Error creating new order (_example.org: malformed: Invalid "
            "underscore in DNS name)");
  auto failed_challenge = parse_challenge(R"({"type":"http-01","url":"u","status":"invalid",
    "error":{"type":"urn:ietf:params:acme:error:connection","detail":"port 80 unreachable"}})");
  ASSERT_TRUE(failed_challenge.value) << failed_challenge.error;
  ASSERT_TRUE(failed_challenge.value->error);
  EXPECT_EQ(failed_challenge.value->error->text(), "connection: port 80 unreachable");
}

TEST(AcmeMessages, RefusesWhatIsNotTheObjectWithTheReason) {
  struct Case {
    Parsed<Order> parsed;
    const char* error_part;
  };
  for (const auto& c : {
           Case{parse_order(""), "not valid JSON"},
           Case{parse_order("[]"), "not a JSON object"},
           Case{parse_order(R"({"status":"pending"})"), "\"finalize\" is missing"},
           Case{parse_order(R"({"status":7,"finalize":"f"})"), "\"status\" is not a string"},
           Case{parse_order(R"({"status":"valid","finalize":"f","authorizations":"x"})"),
                "not an array"},
           Case{parse_order(R"({"status":"valid","finalize":"f","identifiers":[{"type":"dns"}]})"),
                "\"value\" is missing"},
           Case{parse_order(std::string(kMaxResponseBytes + 1, ' ')), "larger than 1 MiB"},
       }) {
    EXPECT_FALSE(c.parsed.value);
    EXPECT_NE(c.parsed.error.find(c.error_part), std::string::npos) << c.parsed.error;
  }
  auto deep =
      parse_problem(R"({"type":"t","subproblems":[{"type":"a","subproblems":[{"type":"b"}]}]})");
  ASSERT_TRUE(deep.value);
  EXPECT_TRUE(deep.value->subproblems.at(0).subproblems.empty());  // one level, as the RFC
}

TEST(AcmeMessages, NewOrderNamesDnsAndIpIdentifiers) {
  auto j = nlohmann::json::parse(new_order_payload({"derp1.example.com", "192.0.2.1", "::1"}));
  EXPECT_EQ(j, nlohmann::json::parse(R"({"identifiers":[{"type":"dns","value":"derp1.example.com"},
    {"type":"ip","value":"192.0.2.1"},{"type":"ip","value":"::1"}]})"));
}

}  // namespace
}  // namespace derp::acme
