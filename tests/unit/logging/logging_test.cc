// Log lines strangers cannot forge or flood (relay/logging).
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "relay/logging/event.h"
#include "relay/logging/json_formatter.h"

#include <string>

#include "relay/logging/log_throttle.h"
#include "relay/logging/printable.h"

namespace derp::logging {
namespace {

using namespace std::chrono_literals;

TEST(Printable, EscapesWhatCouldForgeALineOrDriveATerminal) {
  EXPECT_EQ(printable("derp1.example.com"), "derp1.example.com");
  EXPECT_EQ(printable("a\nINFO forged line"), "a\\x0aINFO forged line");
  EXPECT_EQ(printable("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(printable("say \"hi\" \\ bye"), "say \\\"hi\\\" \\\\ bye");
  EXPECT_EQ(printable(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(printable("caf\xc3\xa9\x7f"), "caf\\xc3\\xa9\\x7f");
}

TEST(Printable, CutsLongInputAndSaysHowMuchWasLeftOut) {
  const std::string big(300, 'a');
  const std::string out = printable(big, 10);
  EXPECT_EQ(out, std::string(10, 'a') + "…(+290 bytes)");
  EXPECT_EQ(printable(std::string(256, 'b')).size(), 256u);
}

TEST(LogThrottle, OneLinePerIntervalAndCountsTheRest) {
  LogThrottle throttle(10s);
  const auto t0 = std::chrono::steady_clock::time_point() + 1h;
  ASSERT_EQ(throttle.allow("accept", t0), std::optional<std::uint64_t>(0));
  for (int i = 0; i < 41; ++i) EXPECT_FALSE(throttle.allow("accept", t0 + 1s));
  // Another key has its own interval.
  EXPECT_EQ(throttle.allow("tls", t0 + 2s), std::optional<std::uint64_t>(0));
  EXPECT_EQ(throttle.allow("accept", t0 + 10s), std::optional<std::uint64_t>(41));
  EXPECT_EQ(LogThrottle::suffix(41), " (41 more suppressed)");
  EXPECT_EQ(LogThrottle::suffix(0), "");
  EXPECT_EQ(throttle.allow("accept", t0 + 20s), std::optional<std::uint64_t>(0));
}

TEST(LogThrottle, ManyDistinctKeysShareOneSlotBeyondTheCap) {
  LogThrottle throttle(10s);
  const auto t0 = std::chrono::steady_clock::time_point() + 1h;
  for (std::size_t i = 0; i < LogThrottle::kMaxKeys; ++i)
    ASSERT_TRUE(throttle.allow("peer" + std::to_string(i), t0));
  // Every key past the cap lands in the shared slot: the first passes, the rest are counted.
  EXPECT_TRUE(throttle.allow("new-a", t0));
  EXPECT_FALSE(throttle.allow("new-b", t0));
  EXPECT_FALSE(throttle.allow("new-c", t0));
  EXPECT_EQ(throttle.allow("new-d", t0 + 10s), std::optional<std::uint64_t>(2));
}

// --log-format json with log_event: the event name and fields beside time, level and msg, all
// escaped, and nothing of an event on the next plain line.
TEST(JsonFormatter, EventLinesCarryTheirNameAndFields) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  auto logger = std::make_shared<spdlog::logger>("test", sink);
  logger->set_formatter(std::make_unique<JsonFormatter>());
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  log_event(spdlog::level::info, "mesh_link_up",
            {{"peer", "derp2:443"}, {"note", "a \"quoted\"\nline"}, {"msg", "forged"}},
            "mesh {}: linked", "derp2:443");
  spdlog::info("plain line");
  log_event(spdlog::level::debug, "hidden", {}, "below the level");  // not logged at info
  spdlog::set_default_logger(previous);

  std::istringstream lines(out.str());
  std::string first, second, third;
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_FALSE(std::getline(lines, third)) << out.str();
  auto e = nlohmann::json::parse(first);
  EXPECT_EQ(e["event"], "mesh_link_up");
  EXPECT_EQ(e["peer"], "derp2:443");
  EXPECT_EQ(e["note"], "a \"quoted\"\nline");
  EXPECT_EQ(e["msg"], "mesh derp2:443: linked");  // a field cannot replace the message
  EXPECT_EQ(e["level"], "info");
  auto plain = nlohmann::json::parse(second);
  EXPECT_EQ(plain["msg"], "plain line");
  EXPECT_FALSE(plain.contains("event")) << second;
}

}  // namespace
}  // namespace derp::logging
