// derpd's own admission rules (--admit-file): the file format, which rule decides, and edits.
#include <gtest/gtest.h>

#include <string>

#include "relay/admission/admit_list.h"

namespace derp::admission {
namespace {

namespace ip = boost::asio::ip;

TEST(AdmitList, ParsesRulesCommentsAndBlankLines) {
  auto key = protocol::NodePrivate::generate().public_key();
  std::string error;
  auto list = parse_admit_list("# office\n\nallow " + key.to_text() +
                                   "   # alice\r\ndeny 192.0.2.0/24\n\tdeny 2001:db8::1\n",
                               error);
  ASSERT_TRUE(list) << error;
  ASSERT_EQ(list->rules.size(), 3u);
  EXPECT_EQ(list->rules[0].text(), "allow " + key.to_text());
  EXPECT_EQ(list->rules[1].text(), "deny 192.0.2.0/24");
  EXPECT_EQ(list->rules[2].text(), "deny 2001:db8::1/128");
  // What format_admit_list writes parses back to the same rules.
  auto again = parse_admit_list(format_admit_list(*list), error);
  ASSERT_TRUE(again) << error;
  ASSERT_EQ(again->rules.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(again->rules[i].text(), list->rules[i].text());
}

TEST(AdmitList, ABadLineIsNamed) {
  std::string error;
  EXPECT_FALSE(parse_admit_list("deny 192.0.2.0/24\npermit 10.0.0.0/8\n", error));
  EXPECT_EQ(error, "line 2: starts with neither allow nor deny");
  EXPECT_FALSE(parse_admit_list("allow nodekey:1234\n", error));
  EXPECT_NE(error.find("line 1: not a node key"), std::string::npos) << error;
  EXPECT_FALSE(parse_admit_list("deny\n", error));
  EXPECT_FALSE(parse_admit_list("deny 300.0.0.0/8\n", error));
}

TEST(AdmitList, ADenyWinsAndAnAllowAdmits) {
  auto alice = protocol::NodePrivate::generate().public_key();
  auto bob = protocol::NodePrivate::generate().public_key();
  std::string error;
  auto list = parse_admit_list("allow " + alice.to_text() + "\ndeny 192.0.2.0/24\n", error);
  ASSERT_TRUE(list);
  auto in_range = ip::make_address("192.0.2.9");
  auto elsewhere = ip::make_address("198.51.100.1");
  EXPECT_EQ(decide(*list, alice, elsewhere).verdict, ListVerdict::kAllow);
  EXPECT_EQ(decide(*list, alice, in_range).verdict, ListVerdict::kDeny);
  EXPECT_EQ(decide(*list, alice, in_range).rule, "deny 192.0.2.0/24");
  EXPECT_EQ(decide(*list, bob, elsewhere).verdict, ListVerdict::kNoMatch);
  // A dual-stack socket reports IPv4 peers v4-mapped.
  EXPECT_EQ(decide(*list, bob, ip::make_address("::ffff:192.0.2.9")).verdict, ListVerdict::kDeny);
  EXPECT_EQ(decide(*list, bob, std::nullopt).verdict, ListVerdict::kNoMatch);
  EXPECT_TRUE(list->has_allow_rules());
}

TEST(AdmitList, EditsReplaceTheRuleForATarget) {
  AdmitList list;
  EXPECT_EQ(set_rule(list, true, "192.0.2.7"), "");
  EXPECT_EQ(set_rule(list, false, "192.0.2.7/32"), "");
  ASSERT_EQ(list.rules.size(), 1u);
  EXPECT_EQ(list.rules[0].text(), "deny 192.0.2.7/32");
  EXPECT_NE(set_rule(list, false, "example.com"), "");
  EXPECT_EQ(remove_rule(list, "10.0.0.0/8"), "no rule for 10.0.0.0/8");
  EXPECT_EQ(remove_rule(list, " 192.0.2.7 "), "");
  EXPECT_TRUE(list.rules.empty());
}

}  // namespace
}  // namespace derp::admission
