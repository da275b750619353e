// A STUN client written by others against our server: coturn's turnutils_stunclient, which sends
// a header-only RFC 5389 Binding request (the reference server ignores it; we answer).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>

#include "stun/stun_server.h"
#include "tests/unit/stun/stun_test_support.h"

namespace derp::stun {
namespace {

constexpr const char* kClient = "turnutils_stunclient";

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::filesystem::path p = std::filesystem::path(dir) / name;
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

struct RunResult {
  int exit_code = -1;
  std::string output;
};

RunResult run(const std::string& command) {
  RunResult r;
  FILE* f = ::popen(command.c_str(), "r");
  if (!f) return r;
  std::array<char, 512> buf;
  while (std::fgets(buf.data(), buf.size(), f)) r.output += buf.data();
  const int status = ::pclose(f);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

struct CoturnCase {
  const char* host;
  int workers;
};

class CoturnClient : public ::testing::TestWithParam<CoturnCase> {};

TEST_P(CoturnClient, GetsItsMappedAddress) {
  const std::string binary = find_in_path(kClient);
  ASSERT_FALSE(binary.empty()) << kClient
                               << " not found in PATH: install coturn (apt-get install coturn); "
                                  "this test needs coturn's real STUN client and does not skip";
  testing::WorkerThreads workers(GetParam().workers);
  StunServer server(workers.pointers(), StunConfig{GetParam().host, 0, true});
  server.start();

  // `timeout` bounds the run should the client wait forever for a reply.
  const std::string command = "timeout 20 " + binary + " -p " +
                              std::to_string(server.local_port()) + " " + GetParam().host + " 2>&1";
  const RunResult r = run(command);
  ASSERT_EQ(r.exit_code, 0) << command << "\n" << r.output;

  // It prints e.g. "0: : IPv4. UDP reflexive addr: 127.0.0.1:33537".
  const std::regex line(R"(UDP reflexive addr: (\S+):(\d+))");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, line)) << command << "\n" << r.output;
  EXPECT_EQ(m[1].str(), GetParam().host) << r.output;
  const int port = std::stoi(m[2].str());
  EXPECT_GT(port, 0);
  EXPECT_LT(port, 65536);
  EXPECT_NE(port, server.local_port());

  EXPECT_TRUE(testing::eventually([&] { return server.counters().answered_generic >= 1; }));
  EXPECT_EQ(server.counters().not_stun, 0u);
}

INSTANTIATE_TEST_SUITE_P(Loopback, CoturnClient,
                         ::testing::Values(CoturnCase{"127.0.0.1", 1}, CoturnCase{"127.0.0.1", 2},
                                           CoturnCase{"::1", 1}, CoturnCase{"::1", 2}),
                         [](const auto& info) {
                           return std::string(info.param.host[0] == ':' ? "ipv6" : "ipv4") + "_" +
                                  std::to_string(info.param.workers) + "w";
                         });

}  // namespace
}  // namespace derp::stun
