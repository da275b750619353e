// STUN on a running derpd: coturn's turnutils_stunclient (a client written by others) and a
// Tailscale-form request both get the right mapped address, over IPv4 and IPv6 loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <regex>

#include "tests/support/derpd_process.h"
#include "tests/support/hex.h"
#include "tests/support/http_get.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

std::string run(const std::string& command) {
  std::string out;
  FILE* f = ::popen(command.c_str(), "r");
  if (!f) return out;
  std::array<char, 512> buf;
  while (std::fgets(buf.data(), buf.size(), f)) out += buf.data();
  ::pclose(f);
  return out;
}

struct Family {
  const char* name;
  const char* listen;  // -a value
  const char* host;    // what the client dials
};

class DerpdStun : public ::testing::TestWithParam<Family> {};

TEST_P(DerpdStun, CoturnClientGetsItsMappedAddress) {
  ASSERT_EQ(::system("command -v turnutils_stunclient >/dev/null"), 0)
      << "turnutils_stunclient is missing: apt-get install coturn (scripts/install-deps.sh does)";
  TempDir dir;
  DerpdProcess derpd({"-a", GetParam().listen, "--stun-port", "0", "-c", dir.path() + "/k"});
  ASSERT_NE(derpd.stun_port(), 0);
  auto out = run("turnutils_stunclient -p " + std::to_string(derpd.stun_port()) + " " +
                 GetParam().host + " 2>&1");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(UDP reflexive addr: (\S+):(\d+))"))) << out;
  EXPECT_EQ(m[1], GetParam().host);
  EXPECT_GT(std::stoi(m[2]), 0);
}

INSTANTIATE_TEST_SUITE_P(Loopback, DerpdStun,
                         ::testing::Values(Family{"ipv4", "127.0.0.1:0", "127.0.0.1"},
                                           Family{"ipv6", "[::1]:0", "::1"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(DerpdStunTailscaleForm, AnswersExactlyLikeTheReferenceAndCounts) {
  TempDir dir;
  DerpdProcess derpd({"-a", "127.0.0.1:0", "--stun-port", "0", "-c", dir.path() + "/k"});
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0);
  socklen_t len = sizeof(local);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  sockaddr_in server = local;
  server.sin_port = htons(derpd.stun_port());
  // Spec §12.8 request (transaction 01..0c, SOFTWARE tailnode, FINGERPRINT).
  auto request = from_hex(
      "00 01 00 14 21 12 a4 42 01 02 03 04 05 06 07 08 09 0a 0b 0c "
      "80 22 00 08 74 61 69 6c 6e 6f 64 65 80 28 00 04 b3 2c 37 0f");
  ASSERT_EQ(::sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&server),
                     sizeof(server)),
            static_cast<ssize_t>(request.size()));
  std::array<std::uint8_t, 128> reply{};
  ssize_t n = ::recv(fd, reply.data(), reply.size(), 0);
  ::close(fd);
  ASSERT_EQ(n, 32);
  // XOR-MAPPED-ADDRESS of 127.0.0.1:<our port>, family 1.
  std::uint16_t port = ntohs(local.sin_port);
  EXPECT_EQ(reply[0], 0x01);
  EXPECT_EQ(reply[1], 0x01);
  EXPECT_EQ(reply[25], 0x01);
  EXPECT_EQ((reply[26] << 8 | reply[27]) ^ 0x2112, port);
  EXPECT_EQ(reply[28] ^ 0x21, 127);
  EXPECT_EQ(reply[31] ^ 0x42, 1);
  // The worker counts a reply after sending it: the reply can arrive first.
  std::string varz;
  EXPECT_TRUE(eventually([&] {
    varz = http_get(derpd.port(), "/debug/varz");
    return varz.find("stun_requests{disposition=\"success\"} 1") != std::string::npos &&
           varz.find("stun_addrfamily{family=\"ipv4\"} 1") != std::string::npos;
  })) << varz;
}

}  // namespace
}  // namespace derp::testing
