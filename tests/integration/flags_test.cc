// derper-compatible command line (protocol §9.1, §3.5): Go-style single-dash flags, --help, exit
// status 2 for unknown flags, a fatal error naming a bad key file.
#include <gtest/gtest.h>

#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/async_runner.h"
#include "tests/support/capture.h"
#include "tests/support/client_checks.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_text.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;

void expect_relays(const DerpdProcess& derpd) {
  AsyncRunner runner;
  runner.run([&]() -> asio::awaitable<void> {
    auto a = co_await connect_client(derpd.derp_url());
    auto b = co_await connect_client(derpd.derp_url());
    co_await expect_relay(*a, *b, 1);
  }());
}

TEST(Flags, GoStyleSingleDashFlags) {
  TempDir dir;
  DerpdProcess derpd(
      {"-a", "127.0.0.1:0", "-stun=false", "-http-port", "-1", "-c", dir.path() + "/key"});
  EXPECT_NE(derpd.port(), 0);
  EXPECT_EQ(derpd.stun_port(), 0) << "-stun=false must turn STUN off";
  expect_relays(derpd);
}

TEST(Flags, GoStyleEqualsForms) {
  TempDir dir;
  DerpdProcess derpd({"-a=127.0.0.1:0", "-stun=false", "-tcp-write-timeout=5s",
                      "-tcp-keepalive-time=1m", "-c=" + dir.path() + "/key"});
  expect_relays(derpd);
}

TEST(Flags, KeyFileIsCreatedWithMode0600) {
  TempDir dir;
  auto path = dir.path() + "/sub/derper.key";
  { DerpdProcess derpd({"-a", "127.0.0.1:0", "--stun=false", "-c", path}); }
  ASSERT_TRUE(std::filesystem::exists(path));
  auto perms = std::filesystem::status(path).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto text = read_text_file(path);
  EXPECT_EQ(text.rfind("{\n\t\"PrivateKey\": \"privkey:", 0), 0u) << text;
  EXPECT_NE(text.back(), '\n');
}

TEST(Flags, HelpExitsZeroAndExplainsTheFlags) {
  auto r = run_derpd_to_exit({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (std::string flag :
       {"--tcp-write-timeout", "--http-port", "--stun-port", "--certmode", "--hostname",
        "--mesh-psk-file", "--tcp-user-timeout", "--tcp-keepalive-time", "--derp", "--home"}) {
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag << " missing from --help";
  }
}

TEST(Flags, UnknownFlagExitsTwo) {
  auto r = run_derpd_to_exit({"--no-such-flag", "-a", "127.0.0.1:0", "--stun=false"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_derpd_to_exit({"-no-such-flag", "-a", "127.0.0.1:0", "--stun=false"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST(Flags, BadKeyFileIsFatalAndNamed) {
  TempDir dir;
  auto path = dir.path() + "/bad.key";
  {
    std::ofstream out(path);
    out << R"({"PrivateKey":"nope"})";
  }
  auto r = run_derpd_to_exit({"-a", "127.0.0.1:0", "--stun=false", "-c", path});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, -1) << "derpd did not exit";
  EXPECT_NE(r.output.find(path), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("derpd ready"), std::string::npos);

  // A missing PrivateKey field is fatal too.
  {
    std::ofstream out(path);
    out << R"({"Other":"x"})";
  }
  r = run_derpd_to_exit({"-a", "127.0.0.1:0", "--stun=false", "-c", path});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, -1) << "derpd did not exit";
  EXPECT_NE(r.output.find(path), std::string::npos) << r.output;
}

}  // namespace
}  // namespace derp::testing
