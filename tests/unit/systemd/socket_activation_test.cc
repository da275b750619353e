// Which inherited socket serves which listener, and what an operator reads when derpd.socket and
// derpd's flags disagree. (Taking real descriptors is covered by
// tests/integration/socket_activation_test.cc.)
#include <gtest/gtest.h>

#include <vector>

#include "relay/systemd/socket_activation.h"

namespace derp::systemd {
namespace {

namespace ip = boost::asio::ip;

InheritedSocket socket_at(int fd, SocketKind kind, const char* address, std::uint16_t port) {
  InheritedSocket s;
  s.fd = fd;
  s.kind = kind;
  s.address = ip::make_address(address);
  s.port = port;
  return s;
}

TEST(FindInherited, MatchesKindAndPort) {
  std::vector<InheritedSocket> s{socket_at(3, SocketKind::kTcpListener, "::", 443),
                                 socket_at(4, SocketKind::kTcpListener, "::", 80),
                                 socket_at(5, SocketKind::kUdp, "::", 3478)};
  EXPECT_EQ(find_inherited(s, SocketKind::kTcpListener, "", 443), 0u);
  EXPECT_EQ(find_inherited(s, SocketKind::kTcpListener, "", 80), 1u);
  EXPECT_EQ(find_inherited(s, SocketKind::kUdp, "", 3478), 2u);
  EXPECT_EQ(find_inherited(s, SocketKind::kUdp, "", 443), std::nullopt);
  EXPECT_EQ(find_inherited(s, SocketKind::kTcpListener, "", 3478), std::nullopt);
  EXPECT_EQ(find_inherited(s, SocketKind::kTcpListener, "", 8443), std::nullopt);
}

TEST(FindInherited, AddressesMustAgreeUnlessOneIsTheWildcard) {
  std::vector<InheritedSocket> s{socket_at(3, SocketKind::kTcpListener, "192.0.2.1", 443)};
  EXPECT_EQ(find_inherited(s, SocketKind::kTcpListener, "192.0.2.1", 443), 0u);
  EXPECT_EQ(find_inherited(s, SocketKind::kTcpListener, "", 443), 0u);  // -a :443
  EXPECT_EQ(find_inherited(s, SocketKind::kTcpListener, "0.0.0.0", 443), 0u);
  EXPECT_EQ(find_inherited(s, SocketKind::kTcpListener, "192.0.2.2", 443), std::nullopt);
  std::vector<InheritedSocket> any{socket_at(3, SocketKind::kTcpListener, "::", 443)};
  EXPECT_EQ(find_inherited(any, SocketKind::kTcpListener, "192.0.2.2", 443), 0u);
  std::vector<InheritedSocket> mapped{socket_at(3, SocketKind::kUdp, "::ffff:0.0.0.0", 3478)};
  EXPECT_EQ(find_inherited(mapped, SocketKind::kUdp, "127.0.0.1", 3478), 0u);
}

TEST(FindInherited, ATakenSocketIsNotHandedOutTwice) {
  InheritedSockets sockets({socket_at(-1, SocketKind::kTcpListener, "::", 443)});
  EXPECT_EQ(sockets.take(SocketKind::kTcpListener, "", 443, "DERP :443"), -1);
  EXPECT_NO_THROW(sockets.check_all_taken("DERP tcp :443"));
}

TEST(InheritedSockets, ALeftOverSocketNamesItselfAndTheListeners) {
  // fd -1 entries are "taken"; a real leftover needs a descriptor number, never used here.
  std::vector<InheritedSocket> s{socket_at(1000, SocketKind::kTcpListener, "::", 8443)};
  s[0].name = "derp";
  InheritedSockets sockets(std::move(s));
  try {
    sockets.check_all_taken("DERP tcp :443, STUN udp :3478");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("tcp [::]:8443 (fd 1000, derp)"), std::string::npos) << what;
    EXPECT_NE(what.find("DERP tcp :443, STUN udp :3478"), std::string::npos) << what;
    EXPECT_NE(what.find("ListenStream="), std::string::npos) << what;
  }
  EXPECT_EQ(sockets.take(SocketKind::kTcpListener, "", 8443, "DERP :8443"), 1000);
}

}  // namespace
}  // namespace derp::systemd
