// Connection limits against a real derpd (relay/limits): per source address, in total, by accept
// rate (derper's flags), changed at run time with derpctl, and the descriptor reserve that keeps
// the admin API and /derp/probe answering when strangers exhaust the open-file limit. Strangers
// connect from 127.0.0.2 and up; the bystander pair and the test's own requests come from
// 127.0.0.1, which these nodes exempt.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/admin/admin_node.h"
#include "tests/support/async_runner.h"
#include "tests/support/bystanders.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/http_text.h"
#include "tests/support/proc_status.h"
#include "tests/support/raw_socket.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

using namespace std::chrono_literals;

// Asks for /generate_204 on a kept-alive connection: true when the node served it, false when it
// closed the connection instead (a refused connection is reset right after accept) or when the
// connect itself already met that reset (null).
bool served(RawSocket* s) {
  if (!s || !s->send_all(std::string_view("GET /generate_204 HTTP/1.1\r\nHost: derp\r\n\r\n"))) {
    return false;
  }
  auto head = s->read_http_head(5s);
  return head && head->rfind("HTTP/1.1 204", 0) == 0;
}

// Null when connect() failed: on loopback the node can accept and reset a refused connection
// before the client's connect() has returned.
std::unique_ptr<RawSocket> connect_from(std::uint16_t port, const char* source) {
  try {
    return std::make_unique<RawSocket>(port, 0, source);
  } catch (const std::runtime_error&) {
    return nullptr;
  }
}

double refused(std::uint16_t port, const std::string& reason) {
  return varz(port, "derp_connections_refused{reason=\"" + reason + "\"}");
}

int count_lines_with(const std::string& log, const std::string& needle) {
  int n = 0;
  for (auto pos = log.find(needle); pos != std::string::npos; pos = log.find(needle, pos + 1)) ++n;
  return n;
}

// The descriptor accept() would get next in `pid`: the lowest number not in use.
int lowest_free_descriptor(pid_t pid) {
  const auto numbers = descriptor_numbers(pid);
  const std::set<int> used(numbers.begin(), numbers.end());
  int fd = 0;
  while (used.count(fd)) ++fd;
  return fd;
}

// Sets the soft limit only: raising a hard limit again needs CAP_SYS_RESOURCE, which a container
// may not have.
void set_descriptor_limit(pid_t pid, rlim_t soft) {
  rlimit lim{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &lim), 0) << std::strerror(errno);
  lim.rlim_cur = std::min(soft, lim.rlim_max);
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &lim, nullptr), 0) << "prlimit: " << std::strerror(errno);
}

class ConnectionLimits : public ::testing::Test {
 protected:
  // A node with `limits` flags, bystanders already exchanging packets through it.
  void start_with(std::vector<std::string> flags) {
    flags.insert(flags.end(), {"--stun=false", "--connection-limit-exempt", "127.0.0.1/32"});
    node_ = std::make_unique<AdminNode>(flags);
    bystanders_ = std::make_unique<Bystanders>(runner_, node_->derpd->derp_url());
  }
  std::uint16_t port() const { return node_->derpd->port(); }
  void TearDown() override {
    if (bystanders_) bystanders_->expect_unaffected();
  }

  AsyncRunner runner_;
  std::unique_ptr<AdminNode> node_;
  std::unique_ptr<Bystanders> bystanders_;
};

TEST_F(ConnectionLimits, PerIpLimitRefusesTheNextConnectionFromThatAddressOnly) {
  start_with({"--max-connections-per-ip", "3"});
  std::vector<std::unique_ptr<RawSocket>> first;
  for (int i = 0; i < 3; ++i) {
    first.push_back(connect_from(port(), "127.0.0.2"));
    EXPECT_TRUE(served(first.back().get())) << "connection " << i << " is within the limit";
  }
  auto fourth = connect_from(port(), "127.0.0.2");
  EXPECT_FALSE(served(fourth.get())) << "a fourth connection from 127.0.0.2 is closed at once";
  auto other = connect_from(port(), "127.0.0.3");
  EXPECT_TRUE(served(other.get())) << "another address has its own count";
  EXPECT_EQ(refused(port(), "per_ip"), 1);

  // One closes: its place is given back as soon as the node has seen the close.
  first.front().reset();
  ASSERT_TRUE(eventually([&] { return served(connect_from(port(), "127.0.0.2").get()); }));
  EXPECT_NE(node_->derpd->log().find("refused a connection from 127.0.0.2"), std::string::npos)
      << node_->derpd->log();
}

TEST_F(ConnectionLimits, GlobalLimitRefusesStrangersButNotExemptPeers) {
  start_with({"--max-connections", "4"});
  std::vector<std::unique_ptr<RawSocket>> held;
  const char* sources[] = {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"};
  for (const char* source : sources) {
    held.push_back(connect_from(port(), source));
    ASSERT_TRUE(served(held.back().get())) << source;
  }
  auto over = connect_from(port(), "127.0.0.6");
  EXPECT_FALSE(served(over.get()));
  EXPECT_EQ(refused(port(), "max_connections"), 1);
  // The exempt address (the bystanders' and this test's) is neither counted nor refused.
  std::vector<std::unique_ptr<RawSocket>> local;
  for (int i = 0; i < 10; ++i) {
    local.push_back(std::make_unique<RawSocket>(port()));
    EXPECT_TRUE(served(local.back().get()));
  }
  EXPECT_EQ(varz(port(), "derp_connections_open{counted=\"limited\"}"), 4);
}

TEST_F(ConnectionLimits, AcceptRateLimitClosesTheExcessAtOnceAsDerper) {
  // One token per 10 s after a burst of 5: within this test no token comes back.
  start_with({"--accept-connection-limit", "0.1", "--accept-connection-burst", "5"});
  int admitted = 0;
  std::vector<std::unique_ptr<RawSocket>> held;
  for (int i = 0; i < 20; ++i) {
    held.push_back(connect_from(port(), "127.0.0.2"));
    if (served(held.back().get())) ++admitted;
  }
  EXPECT_EQ(admitted, 5);
  // The reference's names: accepted counts every admitted connection (the exempt ones too),
  // rejected the ones over the rate.
  EXPECT_EQ(varz(port(), "tls_listener_rejected_connections"), 15);
  EXPECT_GE(varz(port(), "tls_listener_accepted_connections"), 5);
}

TEST_F(ConnectionLimits, LimitsChangeAtRunTimeThroughDerpctlAndShowInStatus) {
  start_with({});
  std::vector<std::unique_ptr<RawSocket>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(connect_from(port(), "127.0.0.2"));
    ASSERT_TRUE(served(held.back().get()));
  }
  auto set = node_->ctl(
      {"limits", "set", "--max-per-ip", "2", "--accept-rate", "100", "--accept-burst", "50"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_NE(set.out.find("100/s (burst 50)"), std::string::npos) << set.out;
  // Open connections are kept; a new one from that address is now over the limit.
  EXPECT_TRUE(served(held.front().get()));
  EXPECT_FALSE(served(connect_from(port(), "127.0.0.2").get()));

  auto status = node_->ctl({"-o", "json", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  auto j = nlohmann::json::parse(status.out);
  EXPECT_EQ(j["limits"]["max_connections_per_ip"], "2");
  EXPECT_EQ(j["limits"]["refused"]["per_ip"], "1");
  EXPECT_EQ(j["limits"]["open"], "3");

  auto table = node_->ctl({"limits"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("per_ip 1"), std::string::npos) << table.out;
  auto nothing = node_->ctl({"limits", "set"});
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_NE(nothing.err.find("nothing to set"), std::string::npos) << nothing.err;
}

TEST_F(ConnectionLimits, DescriptorReserveKeepsTheAdminApiAndProbeAnswering) {
  start_with({});
  const rlim_t limit = static_cast<rlim_t>(open_descriptors(node_->derpd->pid()) + 120);
  set_descriptor_limit(node_->derpd->pid(), limit);
  // Far more silent strangers than the limit allows: the node stops taking them while it still
  // has its reserve (32 descriptors at this limit).
  std::vector<std::unique_ptr<RawSocket>> strangers;
  for (int i = 0; i < 200; ++i) strangers.push_back(connect_from(port(), "127.0.0.2"));
  ASSERT_TRUE(eventually([&] { return refused(port(), "descriptors") > 0; }));
  EXPECT_LE(open_descriptors(node_->derpd->pid()), static_cast<int>(limit));

  auto status = node_->ctl({"-o", "json", "status"});
  EXPECT_EQ(status.exit_code, 0) << "derpctl over the admin socket: " << status.err;
  EXPECT_EQ(http_status(port(), "/derp/probe"), 200);
  const std::string log = node_->derpd->log();
  EXPECT_LE(count_lines_with(log, "file descriptors nearly exhausted"), 2) << log;
  EXPECT_EQ(count_lines_with(log, "accept on port"), 0) << log;
  strangers.clear();
}

TEST_F(ConnectionLimits, OutOfDescriptorsPausesAcceptsSaysSoOnceAndRecovers) {
  start_with({});
  const pid_t pid = node_->derpd->pid();
  // So tight that accept() itself fails with EMFILE.
  set_descriptor_limit(pid, static_cast<rlim_t>(lowest_free_descriptor(pid)));
  std::vector<std::unique_ptr<RawSocket>> waiting;
  for (int i = 0; i < 20; ++i) waiting.push_back(connect_from(port(), "127.0.0.2"));
  ASSERT_TRUE(eventually(
      [&] { return node_->derpd->log().find("out of file descriptors") != std::string::npos; }));
  set_descriptor_limit(pid, 4096);
  // The connections waited in the kernel's backlog and are served once descriptors are back.
  for (auto& s : waiting) EXPECT_TRUE(served(s.get()));
  const std::string log = node_->derpd->log();
  EXPECT_EQ(count_lines_with(log, "out of file descriptors"), 1) << log;
  EXPECT_NE(log.find("accepting again after"), std::string::npos) << log;
}

}  // namespace
}  // namespace derp::testing
