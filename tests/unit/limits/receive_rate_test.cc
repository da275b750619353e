// The receive limit's pure pieces: the token bucket (with a clock the test moves), the
// --rate-config file as derper reads it, and rates as operators write them.
#include <gtest/gtest.h>

#include "relay/limits/rate_config.h"
#include "relay/limits/rate_text.h"
#include "relay/limits/receive_rate.h"

namespace derp::limits {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(ReceiveBucket, TheBurstPassesThenTheRateHolds) {
  const auto t0 = Clock::time_point{} + 1h;
  ReceiveBucket b({1'000'000, 0}, t0);  // burst raised to 65,568
  b.refill(t0);
  for (int i = 0; i < 53; ++i) b.take(1232);  // 65,296 bytes: within the burst
  EXPECT_EQ(b.owed_wait(), 0ns);
  b.take(1232);  // 960 bytes over
  EXPECT_EQ(b.owed_wait(), 960us);
  // After that wait, the debt is paid and nothing more.
  b.refill(t0 + 960us);
  EXPECT_EQ(b.owed_wait(), 0ns);
  b.take(1000);
  EXPECT_EQ(b.owed_wait(), 1ms);
}

TEST(ReceiveBucket, AFrameTakesAtMostTheMinimumBurst) {
  const auto t0 = Clock::time_point{} + 1h;
  ReceiveBucket b({1'000, 0}, t0);
  b.take(1 << 30);  // a declared length far over any packet
  EXPECT_EQ(b.owed_wait(), 0ns) << "the whole (minimum) burst pays for it";
  b.take(1);
  EXPECT_EQ(b.owed_wait(), 1ms);
}

TEST(ReceiveBucket, IdleTimeRefillsOnlyUpToTheBurst) {
  const auto t0 = Clock::time_point{} + 1h;
  ReceiveBucket b({1'000'000, 100'000}, t0);
  b.take(50'000);
  b.take(50'000);
  b.refill(t0 + 1h);  // an hour idle is worth one burst, not 3.6 GB
  b.take(50'000);
  b.take(50'000);
  EXPECT_EQ(b.owed_wait(), 0ns);
  b.take(1'000);
  EXPECT_EQ(b.owed_wait(), 1ms);
  // A clock that goes backwards (it cannot, but a test clock might) gives nothing.
  b.refill(t0);
  EXPECT_EQ(b.owed_wait(), 1ms);
}

TEST(ReceiveRate, BurstIsRaisedToTheLargestFrame) {
  EXPECT_EQ((ReceiveRate{1, 0}).effective_burst(), 65568u);
  EXPECT_EQ((ReceiveRate{1, 1'000'000}).effective_burst(), 1'000'000u);
  EXPECT_FALSE((ReceiveRate{0, 1'000'000}).limited());
}

TEST(RateConfig, ReadAsDerperReadsIt) {
  auto r = parse_rate_config(
      R"({"PerClientRateLimitBytesPerSec": 1000000, "PerClientRateBurstBytes": 200000})");
  ASSERT_TRUE(r.rate) << r.error;
  EXPECT_EQ(*r.rate, (ReceiveRate{1'000'000, 200'000}));
  // Go matches field names regardless of case, ignores others, and takes the last duplicate.
  r = parse_rate_config(
      R"({"perclientratelimitbytespersec": 5, "Other": [1], "PERCLIENTRATELIMITBYTESPERSEC": 7})");
  ASSERT_TRUE(r.rate) << r.error;
  EXPECT_EQ(r.rate->bytes_per_second, 7u);
  EXPECT_EQ(r.rate->burst_bytes, 0u);
  // Missing fields, null fields, an empty object and a null document all mean "no limit".
  for (const char* off : {"{}", "null", R"({"PerClientRateLimitBytesPerSec": null})", " {} \n"}) {
    r = parse_rate_config(off);
    ASSERT_TRUE(r.rate) << off << ": " << r.error;
    EXPECT_FALSE(r.rate->limited()) << off;
  }
  r = parse_rate_config(R"({"PerClientRateLimitBytesPerSec": 18446744073709551615})");
  ASSERT_TRUE(r.rate) << r.error;
  EXPECT_EQ(r.rate->bytes_per_second, 18446744073709551615u);
}

TEST(RateConfig, RefusesWhatGoWouldRefuseWithAReason) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"{} {}", "not valid JSON"},
      {"[1]", "a JSON object is expected, not array"},
      {"1000000", "a JSON object is expected, not number"},
      {R"({"PerClientRateLimitBytesPerSec": -1})", "must be a whole number of bytes"},
      {R"({"PerClientRateLimitBytesPerSec": 1.5})", "must be a whole number of bytes"},
      {R"({"PerClientRateLimitBytesPerSec": 1e6})", "must be a whole number of bytes"},
      {R"({"PerClientRateBurstBytes": "65568"})", "(not string)"},
      {R"({"PerClientRateLimitBytesPerSec": 18446744073709551616})", "whole number"},
  };
  for (const auto& c : cases) {
    auto r = parse_rate_config(c.text);
    EXPECT_FALSE(r.rate) << c.text;
    EXPECT_NE(r.error.find(c.error), std::string::npos) << c.text << " -> " << r.error;
  }
  EXPECT_FALSE(parse_rate_config(std::string(kMaxRateConfigBytes + 1, ' ')).rate);
}

TEST(RateText, OperatorsUnits) {
  EXPECT_EQ(parse_rate_text("5MB/s"), 5'000'000u);
  EXPECT_EQ(parse_rate_text("5 MB/s"), 5'000'000u);
  EXPECT_EQ(parse_rate_text("5mb/s"), std::nullopt) << "b is bits, and 'mb' says neither";
  EXPECT_EQ(parse_rate_text("512KiB/s"), 524'288u);
  EXPECT_EQ(parse_rate_text("512kib/s"), std::nullopt);
  EXPECT_EQ(parse_rate_text("1.5MiB"), 1'572'864u);
  EXPECT_EQ(parse_rate_text("40Mbit/s"), 5'000'000u);
  EXPECT_EQ(parse_rate_text("40mbit/s"), 5'000'000u);
  EXPECT_EQ(parse_rate_text("8Mbps"), 1'000'000u);
  EXPECT_EQ(parse_rate_text("100kB/s"), 100'000u);
  EXPECT_EQ(parse_rate_text("2GB/s"), 2'000'000'000u);
  EXPECT_EQ(parse_rate_text("123456"), 123'456u);
  for (const char* bad :
       {"", "/s", "fast", "0", "-5MB/s", "5 parsecs", "nan", "inf", "1e30GB/s", "0.1", "5MB/h"}) {
    EXPECT_EQ(parse_rate_text(bad), std::nullopt) << bad;
  }
}

TEST(RateText, Formats) {
  EXPECT_EQ(format_rate(5'000'000), "5 MB/s");
  EXPECT_EQ(format_rate(1'500'000), "1.5 MB/s");
  EXPECT_EQ(format_rate(800'000), "800 KB/s");
  EXPECT_EQ(format_rate(2'000'000'000), "2 GB/s");
  EXPECT_EQ(format_rate(512), "512 B/s");
  EXPECT_EQ(parse_rate_text(format_rate(5'000'000)), 5'000'000u);
}

}  // namespace
}  // namespace derp::limits
