// The TCP admin listener: never without authentication; the token is checked on every call.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <fstream>

#include "derpd/admin/v1/admin.grpc.pb.h"
#include "tests/integration/admin/admin_node.h"

namespace derp::testing {
namespace {

namespace pb = ::derpd::admin::v1;

std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

TEST(AdminAuth, TcpListenerWithoutTokenOrMtlsRefusesToStart) {
  TempDir dir;
  try {
    DerpdProcess d({"-a", "127.0.0.1:0", "--stun-port", "0", "-c", dir.path() + "/key",
                    "--admin-socket", dir.path() + "/admin.sock", "--admin-listen",
                    "127.0.0.1:" + std::to_string(free_port())});
    FAIL() << "derpd started a TCP admin listener without authentication";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("refusing to open the admin API on TCP"),
              std::string::npos)
        << e.what();
  }
}

TEST(AdminAuth, WrongOrMissingTokenIsUnauthenticated) {
  TempDir dir;
  const std::string token = "s3cret-token-0123456789abcdef";
  auto token_file = write_file(dir.path() + "/token", token + "\n");
  auto wrong_file = write_file(dir.path() + "/wrong", "not-the-token-0123456789\n");
  auto port = std::to_string(free_port());
  AdminNode node({"--admin-listen", "127.0.0.1:" + port, "--admin-token-file", token_file});
  EXPECT_EQ(node.derpd->log().find(token), std::string::npos) << "the token is never logged";
  const std::string addr = "127.0.0.1:" + port;

  auto ok = run_derpctl({"--admin", addr, "--token-file", token_file, "-o", "json", "status"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;

  auto wrong = run_derpctl({"--admin", addr, "--token-file", wrong_file, "status"});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("--token-file"), std::string::npos) << wrong.err;
  EXPECT_TRUE(wrong.out.empty());

  // The same with a plain gRPC client: the status code itself.
  auto channel = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
  auto stub = pb::Admin::NewStub(channel);
  for (const std::string& presented :
       std::vector<std::string>{"", "Bearer not-the-token", "Bearer " + token}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!presented.empty()) ctx.AddMetadata("authorization", presented);
    pb::NodeStatus st;
    auto s = stub->GetNodeStatus(&ctx, {}, &st);
    if (presented == "Bearer " + token) {
      EXPECT_TRUE(s.ok()) << s.error_message();
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << presented;
    }
  }
  // The unix socket needs no token: its file mode guards it.
  auto local = node.ctl({"status"});
  EXPECT_EQ(local.exit_code, 0) << local.err;
}

TEST(AdminAuth, TokenGuessingIsLoggedOnceAndLockedOut) {
  TempDir dir;
  const std::string token = "s3cret-token-0123456789abcdef";
  auto token_file = write_file(dir.path() + "/token", token + "\n");
  auto port = std::to_string(free_port());
  AdminNode node({"--admin-listen", "127.0.0.1:" + port, "--admin-token-file", token_file});
  auto stub = pb::Admin::NewStub(
      grpc::CreateChannel("127.0.0.1:" + port, grpc::InsecureChannelCredentials()));
  auto call = [&](const std::string& bearer) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ctx.AddMetadata("authorization", "Bearer " + bearer);
    pb::NodeStatus st;
    return stub->GetNodeStatus(&ctx, {}, &st);
  };
  for (int i = 0; i < 200; ++i) {
    auto s = call("guess-" + std::to_string(i) + "-0123456789abcdef");
    ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  // Locked out: even the right token is refused for now, and the answer says why.
  auto locked = call(token);
  EXPECT_EQ(locked.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(locked.error_message().find("too many failed attempts"), std::string::npos)
      << locked.error_message();
  // Logged, but not 200 times; the guesses themselves never appear.
  const std::string log = node.derpd->log();
  int lines = 0;
  for (auto pos = log.find("admin API: refused a call from ipv4:127.0.0.1");
       pos != std::string::npos; pos = log.find("admin API: refused a call", pos + 1)) {
    ++lines;
  }
  EXPECT_GE(lines, 1) << log;
  EXPECT_LE(lines, 2) << log;
  EXPECT_EQ(log.find("guess-"), std::string::npos);
  EXPECT_EQ(log.find(token), std::string::npos);
  // The operator on the host is not locked out: the unix socket needs no token.
  EXPECT_EQ(node.ctl({"status"}).exit_code, 0);
}

}  // namespace
}  // namespace derp::testing
