#include <gtest/gtest.h>

#include <sys/stat.h>
#include <filesystem>
#include <fstream>

#include "relay/main/go_duration.h"
#include "relay/main/key_file.h"
#include "relay/main/mesh_key_file.h"
#include "relay/main/options.h"

namespace derp::main {
namespace {

using namespace std::chrono_literals;

TEST(GoFlags, SingleDashLongFlagsBecomeDoubleDash) {
  std::vector<std::string> in{"-a",       ":443",       "-http-port", "-1", "-stun=false",
                              "-a=:8443", "--hostname", "x",          "-c", "/k",
                              "-dev",     "--",         "-positional"};
  std::vector<std::string> want{"-a", ":443",  "--http-port", "-1",         "--stun=false",
                                "-a", ":8443", "--hostname",  "x",          "-c",
                                "/k", "--dev", "--",          "-positional"};
  EXPECT_EQ(normalize_go_flags(in), want);
}

TEST(GoFlags, ParseLikeDerper) {
  const char* argv[] = {"derpd",
                        "-a",
                        "127.0.0.1:3340",
                        "-stun=false",
                        "-http-port",
                        "-1",
                        "-tcp-write-timeout",
                        "500ms",
                        "-hostname",
                        "derp.example.com"};
  auto r = parse_command_line(10, argv);
  ASSERT_FALSE(r.should_exit);
  EXPECT_EQ(r.options.addr, "127.0.0.1:3340");
  EXPECT_FALSE(r.options.stun);
  EXPECT_EQ(r.options.http_port, -1);
  EXPECT_EQ(r.options.tcp_write_timeout, 500ms);
  EXPECT_EQ(r.options.hostname, "derp.example.com");
}

TEST(GoFlags, BadInputExitsWithUsageCode) {
  const char* unknown[] = {"derpd", "--no-such-flag"};
  EXPECT_EQ(parse_command_line(2, unknown).exit_code, 2);
  const char* bad_duration[] = {"derpd", "--tcp-write-timeout", "soon"};
  EXPECT_EQ(parse_command_line(3, bad_duration).exit_code, 2);
}

TEST(GoDuration, Forms) {
  EXPECT_EQ(parse_go_duration("10m"), 10min);
  EXPECT_EQ(parse_go_duration("1h30m"), 90min);
  EXPECT_EQ(parse_go_duration("2.5s"), 2500ms);
  EXPECT_EQ(parse_go_duration("500ms"), 500ms);
  EXPECT_EQ(parse_go_duration("0"), 0ns);
  EXPECT_FALSE(parse_go_duration(""));
  EXPECT_FALSE(parse_go_duration("10"));
  EXPECT_FALSE(parse_go_duration("5 s"));
  EXPECT_FALSE(parse_go_duration("1y"));
  EXPECT_FALSE(parse_go_duration("99999999999h"));
}

TEST(ListenAddress, Forms) {
  EXPECT_EQ(parse_listen_address(":443").host, "");
  EXPECT_EQ(parse_listen_address(":443").port, 443);
  EXPECT_EQ(parse_listen_address("[::1]:80").host, "::1");
  EXPECT_EQ(parse_listen_address("1.2.3.4:https").port, 443);
  EXPECT_THROW(parse_listen_address("443"), std::runtime_error);
  EXPECT_THROW(parse_listen_address(":70000"), std::runtime_error);
}

TEST(MeshKey, TrimsAndRefusesWithClearErrors) {
  auto key = parse_mesh_key("  00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
                            "test");
  EXPECT_EQ(key[1], 0x11);
  try {
    parse_mesh_key("abc", "file /etc/derpd/mesh.key");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(),
                 "mesh key file /etc/derpd/mesh.key: must be 64 hex characters, got 3 characters");
  }
}

TEST(KeyFile, CreatedWithMode0600AndReadBack) {
  auto dir = std::filesystem::temp_directory_path() / ("derpd-keytest-" + std::to_string(getpid()));
  auto path = dir / "sub" / "derper.key";
  auto created = load_or_create_key_file(path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(load_or_create_key_file(path).bytes, created.bytes);
  std::ofstream(path) << R"({"PrivateKey":"nope"})";
  EXPECT_THROW(load_or_create_key_file(path), std::runtime_error);
  std::ofstream(path) << R"({"Other":1})";
  EXPECT_THROW(load_or_create_key_file(path), std::runtime_error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace derp::main
