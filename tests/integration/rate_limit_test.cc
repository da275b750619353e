// Per-client receive limits (protocol §4.7), end to end: a real derpd, clients sending flat out as
// fast as TCP lets them, and the rate measured where it matters, at the receiving client. A limit
// counts each frame's length (packet + 32-byte key), so rates here are in those units.
//
// The rates are measured over windows of seconds on a loaded machine: the limited rates must be
// within ±10 % (the server only has to hold back, which needs almost no CPU); unlimited ones only
// have to be well above the limit (3×), since their speed depends on the machine.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/admin/derpctl_runner.h"
#include "tests/integration/admission/loopback_node.h"
#include "tests/support/async_runner.h"
#include "tests/support/build_kind.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/http_text.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kPacketBytes = 1200;  // what Tailscale clients mostly send
constexpr double kFrameBytes = kPacketBytes + 32;
constexpr double kMeasureSeconds = 5;
// The limit the tests set. A sanitizer build moves only a few MB/s on a loaded machine (both the
// derpd and the test's clients are instrumented), so its limit is lower: the point is a limit
// far below what an unlimited client reaches on the same machine.
constexpr std::uint64_t kLimit = kSanitizerBuild ? 250'000 : 1'000'000;
constexpr const char* kLimitText = kSanitizerBuild ? "250 KB/s" : "1 MB/s";
constexpr const char* kLimitArg = kSanitizerBuild ? "250KB/s" : "1MB/s";
constexpr const char* kLimitCell = kSanitizerBuild ? " 250KB/s* " : " 1MB/s* ";
// What a client that is not limited must beat (an ASan-built WebSocket client on a loaded
// machine manages little more than 1 MB/s).
constexpr double kUnlimitedAbove = 3.0 * kLimit;

// Sends from one client to another as fast as the connection takes it, and counts what arrives.
// Each pair runs on its own thread, so a fast pair cannot starve the measurement of a slow one.
class FlatOutPair {
 public:
  FlatOutPair(const std::string& from_url, const std::string& to_url,
              std::optional<protocol::KeyBytes> mesh_key = {}) {
    auto [from, to] = runner_.run(connect(from_url, to_url, mesh_key));
    runner_.spawn(send_flat_out(from, to->public_key()));
    runner_.spawn(count_received(to, received_));
    sender_key_ = from->public_key();
    if (!eventually([&] { return received_->load() > 0; }, 10s)) {
      throw std::runtime_error("no packet arrived from " + from_url);
    }
  }
  const protocol::NodePublic& sender_key() const { return sender_key_; }
  std::uint64_t received() const { return received_->load(); }

 private:
  using Clients =
      std::pair<std::shared_ptr<client::DerpClient>, std::shared_ptr<client::DerpClient>>;
  static boost::asio::awaitable<Clients> connect(std::string from_url, std::string to_url,
                                                 std::optional<protocol::KeyBytes> mesh_key) {
    client::ClientOptions o;
    o.url = from_url;
    o.key = protocol::NodePrivate::generate();
    o.mesh_key = mesh_key;
    auto ex = co_await boost::asio::this_coro::executor;
    std::shared_ptr<client::DerpClient> from = co_await client::DerpClient::connect(ex, o);
    std::shared_ptr<client::DerpClient> to = co_await connect_client(to_url);
    co_return Clients{from, to};
  }
  // One write per packet, as Tailscale's client does; ends when the connection does.
  static boost::asio::awaitable<void> send_flat_out(std::shared_ptr<client::DerpClient> from,
                                                    protocol::NodePublic to) {
    const auto packet = numbered_packet(1, kPacketBytes);
    try {
      for (;;) co_await from->send_packet(to, packet);
    } catch (const std::exception&) {
    }
  }
  static boost::asio::awaitable<void> count_received(
      std::shared_ptr<client::DerpClient> to, std::shared_ptr<std::atomic<std::uint64_t>> n) {
    try {
      for (;;) {
        co_await next_packet(*to);
        n->fetch_add(1);
      }
    } catch (const std::exception&) {
    }
  }

  std::shared_ptr<std::atomic<std::uint64_t>> received_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
  protocol::NodePublic sender_key_;
  AsyncRunner runner_;
};

// The rate of each pair, in frame bytes per second, over the same `seconds`.
std::vector<double> measure(const std::vector<const FlatOutPair*>& pairs, double seconds) {
  std::vector<std::uint64_t> before;
  for (auto* p : pairs) before.push_back(p->received());
  const auto started = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::vector<double> rates;
  std::printf("[ rates    ]");
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    rates.push_back(static_cast<double>(pairs[i]->received() - before[i]) * kFrameBytes / elapsed);
    std::printf(" %.3f MB/s", rates.back() / 1e6);
  }
  std::printf(" over %.2f s\n", elapsed);
  return rates;
}

void write_rate_config(const std::string& path, std::uint64_t bytes_per_second) {
  std::ofstream(path) << R"({"PerClientRateLimitBytesPerSec": )" << bytes_per_second
                      << R"(, "PerClientRateBurstBytes": 0})" << '\n';
}

class RateLimit : public ::testing::Test {
 protected:
  std::unique_ptr<DerpdProcess> start_node(std::vector<std::string> flags) {
    flags.insert(flags.end(), {"--admin-socket", admin_socket()});
    return start_loopback_node(dir_.path(), flags);
  }
  std::string admin_socket() const { return dir_.path() + "/admin.sock"; }
  std::string admin() const { return "unix:" + admin_socket(); }

  TempDir dir_;
};

TEST_F(RateLimit, RateConfigHoldsAClientToItsRateAndSparesMeshPeers) {
  const std::string config = dir_.path() + "/rate.json";
  write_rate_config(config, kLimit);
  auto node = start_node({"--rate-config", config});
  EXPECT_NE(node->log().find("receive limit from " + config + ": " + kLimitText + " per client"),
            std::string::npos)
      << node->log();

  FlatOutPair limited(node->derp_url(), node->derp_url());
  FlatOutPair mesh(node->derp_url(), node->derp_url(), test_mesh_key());
  std::this_thread::sleep_for(1s);  // past the burst and the kernel's buffers filling
  auto rates = measure({&limited, &mesh}, kMeasureSeconds);
  EXPECT_NEAR(rates[0], kLimit, 0.1 * kLimit) << "the limited client";
  EXPECT_GT(rates[1], kUnlimitedAbove) << "a mesh peer is never limited";

  const std::string varz = http_get(node->port(), "/debug/varz");
  EXPECT_NE(
      varz.find("derp_rate_limit_per_client_bytes_per_second " + std::to_string(kLimit) + "\n"),
      std::string::npos)
      << varz;
  EXPECT_NE(varz.find("derp_rate_limit_per_client_burst_bytes 65568\n"), std::string::npos);
  EXPECT_NE(varz.find("derp_rate_limit_per_client_waited "), std::string::npos);
  EXPECT_EQ(varz.find("derp_rate_limit_per_client_waited 0\n"), std::string::npos);

  // The client was slowed, not dropped: it still sends on its first connection.
  auto clients = run_derpctl({"--admin", admin(), "-o", "json", "clients"});
  ASSERT_EQ(clients.exit_code, 0) << clients.err;
  int limited_rows = 0;
  for (const auto& c : nlohmann::json::parse(clients.out)) {
    if (c["key"] != limited.sender_key().to_text()) continue;
    ++limited_rows;
    EXPECT_EQ(c["receive_limit"]["bytes_per_sec"], std::to_string(kLimit)) << c;
    EXPECT_EQ(c["receive_limit_overridden"], false) << c;
  }
  EXPECT_EQ(limited_rows, 1) << clients.out;

  // SIGHUP: the new rate applies to the connection that is already open.
  write_rate_config(config, 2 * kLimit);
  ::kill(node->pid(), SIGHUP);
  ASSERT_TRUE(eventually([&] {
    return node->log().find("receive limit reloaded") != std::string::npos;
  })) << node->log();
  std::this_thread::sleep_for(500ms);
  rates = measure({&limited}, 3);
  EXPECT_NEAR(rates[0], 2 * kLimit, 0.2 * kLimit) << "after the reload";

  // A file that does not parse keeps the limit in force.
  std::ofstream(config) << R"({"PerClientRateLimitBytesPerSec": -1})";
  ::kill(node->pid(), SIGHUP);
  ASSERT_TRUE(eventually([&] { return node->log().find("not reloaded") != std::string::npos; }));
  EXPECT_NE(node->log().find("must be a whole number of bytes"), std::string::npos) << node->log();
  rates = measure({&limited}, 2);
  EXPECT_NEAR(rates[0], 2 * kLimit, 0.2 * kLimit) << "after a bad reload";
}

TEST_F(RateLimit, DerpctlLimitsOneClientWhileOthersKeepFullSpeed) {
  auto node = start_node({});
  // The limited client comes over WebSocket: that transport holds back its reads the same way.
  std::string ws_url = node->derp_url();
  ws_url.replace(0, 4, "ws");
  FlatOutPair limited(ws_url, node->derp_url());
  FlatOutPair bystander(node->derp_url(), node->derp_url());
  const std::string key = limited.sender_key().to_text();

  auto set = run_derpctl({"--admin", admin(), "client", "limit", key, kLimitArg});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_NE(set.out.find(std::string("limited to ") + kLimitText + " (1 connection(s) now"),
            std::string::npos)
      << set.out;
  std::this_thread::sleep_for(1s);
  auto rates = measure({&limited, &bystander}, kMeasureSeconds);
  EXPECT_NEAR(rates[0], kLimit, 0.1 * kLimit) << "the limited client";
  EXPECT_GT(rates[1], kUnlimitedAbove) << "the bystander pair";

  auto shown = run_derpctl({"--admin", admin(), "clients", "--key", key});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("LIMIT"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find(kLimitCell), std::string::npos) << shown.out;
  auto one = run_derpctl({"--admin", admin(), "client", "show", key});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find(std::string(kLimitText) + " (set)"), std::string::npos) << one.out;
  auto listed = run_derpctl({"--admin", admin(), "client", "limit"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("default: none"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find(key), std::string::npos) << listed.out;

  auto bad = run_derpctl({"--admin", admin(), "client", "limit", key, "fast"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("expected e.g. 5MB/s"), std::string::npos) << bad.err;

  auto reset = run_derpctl({"--admin", admin(), "client", "limit", key, "default"});
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  std::this_thread::sleep_for(500ms);
  rates = measure({&limited}, 2);
  EXPECT_GT(rates[0], kUnlimitedAbove) << "back to no limit";
}

TEST_F(RateLimit, UnlimitedOverrideExemptsOneKeyFromTheDefault) {
  const std::string config = dir_.path() + "/rate.json";
  write_rate_config(config, kLimit);
  auto node = start_node({"--rate-config", config});
  FlatOutPair exempt(node->derp_url(), node->derp_url());
  auto set = run_derpctl(
      {"--admin", admin(), "client", "limit", exempt.sender_key().to_text(), "unlimited"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  std::this_thread::sleep_for(500ms);
  auto rates = measure({&exempt}, 2);
  EXPECT_GT(rates[0], kUnlimitedAbove);
}

// At 1 KB/s, one 16 KiB read puts the client in debt for 16 s. Lifting its limit must end that
// pause at once, not when it would have run out.
TEST_F(RateLimit, LiftingALimitEndsAPauseAtOnce) {
  const std::string config = dir_.path() + "/rate.json";
  write_rate_config(config, 1'000);
  auto node = start_node({"--rate-config", config});
  FlatOutPair slowed(node->derp_url(), node->derp_url());
  std::this_thread::sleep_for(1s);  // past the burst: now paused for many seconds
  EXPECT_LT(measure({&slowed}, 1)[0], 20e3);
  auto lift = run_derpctl(
      {"--admin", admin(), "client", "limit", slowed.sender_key().to_text(), "unlimited"});
  ASSERT_EQ(lift.exit_code, 0) << lift.err;
  EXPECT_GT(measure({&slowed}, 1)[0], kUnlimitedAbove);
}

TEST_F(RateLimit, ABadRateConfigStopsTheStartWithTheReason) {
  const std::string config = dir_.path() + "/rate.json";
  std::ofstream(config) << R"({"PerClientRateLimitBytesPerSec": "fast"})";
  auto r = run_derpd_to_exit({"-a", "127.0.0.1:0", "--stun=false", "--rate-config", config});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, -1) << "derpd did not exit";
  EXPECT_NE(r.output.find("--rate-config " + config), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("must be a whole number of bytes"), std::string::npos) << r.output;
  r = run_derpd_to_exit(
      {"-a", "127.0.0.1:0", "--stun=false", "--rate-config", dir_.path() + "/missing.json"});
  EXPECT_NE(r.output.find("no such file"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace derp::testing
