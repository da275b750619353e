// A restart that no client notices: derpd takes its listening sockets from the service manager
// (systemd socket activation, deploy/systemd/derpd.socket), so while one derpd drains and exits
// and the next starts, a connect waits in the kernel's queue instead of being refused, and STUN
// requests wait in the socket's receive queue.
//
// systemd cannot run as PID 1 here, so the test plays the service manager: it binds the sockets,
// keeps them across the restart and hands them to each derpd as systemd does (fds 3, 4 with
// LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES; tests/support/service_manager_sockets.h). Everything
// else is real: derpd processes, TCP connects and HTTP requests, STUN datagrams, DERP clients.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "stun/binding_codec.h"
#include "tests/integration/admin/derpctl_runner.h"
#include "tests/support/async_runner.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/region_client.h"
#include "tests/support/service_manager_sockets.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// A stranger dialling the node every 10 ms: connect, GET /generate_204, read the answer. Each
// dial runs on its own thread, so a connect that waits in the queue does not hold back the next.
class Dialer {
 public:
  explicit Dialer(std::uint16_t port) : port_(port), pacer_([this] { run(); }) {}
  ~Dialer() { stop(); }

  void stop() {
    if (stop_.exchange(true)) return;
    pacer_.join();
    for (auto& t : dials_) t.join();
  }

  struct Totals {
    int dials = 0;
    int refused = 0;  // the TCP connect failed: a Tailscale client would give up on this node
    int failed = 0;   // connected, but no 204 came back
    long long longest_wait_ms = 0;  // from connect() to the whole answer
    std::string first_failure;
  };
  Totals totals() {
    std::lock_guard lock(mu_);
    return totals_;
  }

 private:
  void run() {
    auto next = Clock::now();
    while (!stop_) {
      dials_.emplace_back([this] { dial_once(); });
      next += 10ms;
      std::this_thread::sleep_until(next);  // pacing of the load, not synchronisation
    }
  }

  void dial_once() {
    const auto started = Clock::now();
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{15, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    std::string outcome;
    bool refused = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      refused = true;
      outcome = std::string("connect: ") + std::strerror(errno);
    } else {
      const std::string request =
          "GET /generate_204 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
      (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
      std::string answer;
      char buf[1024];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) answer.append(buf, static_cast<size_t>(n));
      if (answer.rfind("HTTP/1.1 204", 0) != 0) {
        outcome = answer.empty() ? std::string("no answer: ") + std::strerror(errno)
                                 : "answer: " + answer.substr(0, answer.find('\r'));
      }
    }
    ::close(fd);
    const long long waited = ms_since(started);
    std::lock_guard lock(mu_);
    ++totals_.dials;
    if (refused) ++totals_.refused;
    if (!refused && !outcome.empty()) ++totals_.failed;
    if (!outcome.empty() && totals_.first_failure.empty()) totals_.first_failure = outcome;
    if (outcome.empty()) totals_.longest_wait_ms = std::max(totals_.longest_wait_ms, waited);
  }

  std::uint16_t port_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  Totals totals_;
  std::vector<std::thread> dials_;  // touched by the pacer only, until it is joined
  std::thread pacer_;
};

// A Tailscale-style STUN request every 10 ms; every answer is matched to its request.
class StunProber {
 public:
  explicit StunProber(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    sender_ = std::thread([this] { send_loop(); });
    receiver_ = std::thread([this] { receive_loop(); });
  }
  ~StunProber() {
    stop_sending();
    done_ = true;
    receiver_.join();
    ::close(fd_);
  }
  void stop_sending() {
    if (sending_.exchange(false)) sender_.join();
  }
  int sent() const { return sent_.load(); }
  int answered() const { return answered_.load(); }

 private:
  static stun::TxId txid_of(int n) {
    stun::TxId id{};
    std::memcpy(id.data(), &n, sizeof n);
    return id;
  }
  void send_loop() {
    auto next = Clock::now();
    while (sending_) {
      auto request = stun::make_tailscale_request(txid_of(sent_.load()));
      if (::send(fd_, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
        ++sent_;
      }
      next += 10ms;
      std::this_thread::sleep_until(next);
    }
  }
  void receive_loop() {
    std::set<int> seen;
    while (!done_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      std::uint8_t buf[1500];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      auto parsed = stun::parse_binding_response({buf, static_cast<std::size_t>(n)});
      if (!parsed) continue;
      int id = 0;
      std::memcpy(&id, parsed->txid.data(), sizeof id);
      if (seen.insert(id).second) ++answered_;
    }
  }

  int fd_ = -1;
  std::atomic<bool> sending_{true};
  std::atomic<bool> done_{false};
  std::atomic<int> sent_{0};
  std::atomic<int> answered_{0};
  std::thread sender_, receiver_;
};

class SocketActivation : public ::testing::Test {
 protected:
  std::vector<std::string> node_flags(std::uint16_t port, std::uint16_t stun_port) const {
    return {"-a", "127.0.0.1:" + std::to_string(port), "--stun-port",    std::to_string(stun_port),
            "-c", dir_.path() + "/node.key",           "--admin-socket", admin_socket()};
  }
  std::string admin_socket() const { return dir_.path() + "/admin.sock"; }
  DerpctlResult ctl(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--admin", "unix:" + admin_socket()});
    return run_derpctl(std::move(args));
  }
  // Stops `node` with SIGTERM (its drain) and expects a clean exit.
  static void sigterm(std::unique_ptr<DerpdProcess>& node) {
    int status = node->stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n"
                                                               << node->log();
    node.reset();
  }

  TempDir dir_;
};

TEST_F(SocketActivation, RestartQueuesConnectsInsteadOfRefusingThem) {
  ServiceManagerSockets sockets;
  const std::uint16_t port = sockets.add_tcp_listener("derp");
  const std::uint16_t stun_port = sockets.add_udp("stun");
  auto node = std::make_unique<DerpdProcess>(node_flags(port, stun_port), sockets.pass_to_child());
  ASSERT_EQ(node->port(), port);
  ASSERT_EQ(node->stun_port(), stun_port);
  EXPECT_NE(node->log().find("uses tcp 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << node->log();

  // Connected DERP clients, as Tailscale's: they redial the node when their connection breaks.
  AsyncRunner runner;
  constexpr int kClients = 40;
  std::vector<std::unique_ptr<RegionClient>> clients;
  std::vector<Flow> inbound(kClients);
  // However the test ends: the clients stop on the runner's thread and their read loops take
  // their last turn before the clients (and then the runner's io_context) are destroyed.
  struct StopClients {
    AsyncRunner& runner;
    std::vector<std::unique_ptr<RegionClient>>& clients;
    ~StopClients() {
      runner.run([this]() -> boost::asio::awaitable<void> {
        for (auto& c : clients) c->stop();
        co_return;
      }());
      runner.run([]() -> boost::asio::awaitable<void> { co_return; }());
    }
  } stop_clients{runner, clients};
  for (int i = 0; i < kClients; ++i) {
    RegionClientOptions o;
    o.urls = {node->derp_url()};
    clients.push_back(std::make_unique<RegionClient>(runner.executor(), o, &inbound[i]));
    ASSERT_TRUE(runner.run(clients.back()->ensure_connected()));
  }

  Dialer dialer(port);
  StunProber stun(stun_port);
  ASSERT_TRUE(eventually([&] { return dialer.totals().dials >= 20 && stun.answered() >= 20; }));

  // systemctl restart derpd: SIGTERM, the drain, the exit; then the next derpd on the same sockets.
  const auto restart_started = Clock::now();
  sigterm(node);
  const long long old_exited_ms = ms_since(restart_started);
  node = std::make_unique<DerpdProcess>(node_flags(port, stun_port), sockets.pass_to_child());
  const long long new_ready_ms = ms_since(restart_started);
  EXPECT_NE(node->log().find("uses udp 127.0.0.1:" + std::to_string(stun_port)), std::string::npos);

  // Every client is back, on its first attempt after the break (nothing refused or failed).
  auto all_back = [&] {
    return runner.run([&]() -> boost::asio::awaitable<bool> {
      for (auto& c : clients) {
        if (c->connects.load() < 2 || c->node.load() != 0) co_return false;
      }
      co_return true;
    }());
  };
  EXPECT_TRUE(eventually(all_back, 20s));
  const long long clients_back_ms = ms_since(restart_started);
  // Keep dialling a little into the new process's life, then stop.
  const int dials_at_ready = dialer.totals().dials;
  ASSERT_TRUE(eventually([&] { return dialer.totals().dials >= dials_at_ready + 30; }));
  dialer.stop();
  stun.stop_sending();
  EXPECT_TRUE(eventually([&] { return stun.answered() == stun.sent(); }, 5s))
      << stun.answered() << " of " << stun.sent() << " STUN requests answered";

  // Packets flow between the clients through the new process.
  auto packet_arrives = [&](int from, int to, std::uint32_t seq) {
    auto dst = clients[to]->public_key();
    runner.run(clients[from]->send(dst, protocol::Bytes(numbered_packet(seq, 100))));
    return eventually([&] {
      return runner.run([&]() -> boost::asio::awaitable<bool> {
        co_return inbound[to].got.size() > seq&& inbound[to].got[seq];
      }());
    });
  };
  for (int i = 0; i + 1 < kClients; i += 2) EXPECT_TRUE(packet_arrives(i, i + 1, 7)) << i;

  int refused_connects = 0, failed_attempts = 0;
  runner.run([&]() -> boost::asio::awaitable<void> {
    for (auto& c : clients) {
      refused_connects += c->refused_connects.load();
      failed_attempts += c->failed_attempts.load();
      c->stop();
    }
    co_return;
  }());

  auto t = dialer.totals();
  std::printf(
      "restart with the sockets kept: old derpd exited after %lld ms, new one ready after %lld "
      "ms, %d DERP clients back after %lld ms; dialler: %d dials, %d refused, %d failed, longest "
      "wait %lld ms; STUN: %d sent, %d answered; DERP clients: %d refused connects, %d failed "
      "attempts\n",
      old_exited_ms, new_ready_ms, kClients, clients_back_ms, t.dials, t.refused, t.failed,
      t.longest_wait_ms, stun.sent(), stun.answered(), refused_connects, failed_attempts);
  EXPECT_EQ(t.refused, 0) << t.first_failure;
  EXPECT_EQ(t.failed, 0) << t.first_failure;
  EXPECT_EQ(refused_connects, 0);
  EXPECT_EQ(failed_attempts, 0);
}

// The same restart without socket activation: derpd binds its own socket, so between the old
// process's drain and the new one's bind every connect is refused. This is what the dialer above
// must be able to see.
TEST_F(SocketActivation, ForComparisonRestartWithoutKeptSocketsRefuses) {
  const std::uint16_t port = free_port();
  auto node = std::make_unique<DerpdProcess>(node_flags(port, 0));
  Dialer dialer(port);
  ASSERT_TRUE(eventually([&] { return dialer.totals().dials >= 20; }));
  const auto restart_started = Clock::now();
  sigterm(node);
  node = std::make_unique<DerpdProcess>(node_flags(port, 0));
  const long long new_ready_ms = ms_since(restart_started);
  const int dials_at_ready = dialer.totals().dials;
  ASSERT_TRUE(eventually([&] { return dialer.totals().dials >= dials_at_ready + 10; }));
  dialer.stop();
  auto t = dialer.totals();
  std::printf("restart binding anew: new derpd ready after %lld ms; %d dials, %d refused\n",
              new_ready_ms, t.dials, t.refused);
  EXPECT_GT(t.refused, 0);
}

// `derpctl drain` is for maintenance: clients must move to a sibling, so a connect is refused
// even though the service manager keeps the socket open; undrain listens on it again.
TEST_F(SocketActivation, AdminDrainStillRefusesConnectsAndUndrainListensAgain) {
  ServiceManagerSockets sockets;
  const std::uint16_t port = sockets.add_tcp_listener("derp");
  const std::uint16_t stun_port = sockets.add_udp("stun");
  auto node = std::make_unique<DerpdProcess>(node_flags(port, stun_port), sockets.pass_to_child());
  ASSERT_FALSE(connect_refused(port));

  auto drain = ctl({"drain", "--deadline", "5s"});
  ASSERT_EQ(drain.exit_code, 0) << drain.err;
  EXPECT_TRUE(connect_refused(port));
  auto undrain = ctl({"undrain"});
  ASSERT_EQ(undrain.exit_code, 0) << undrain.err;
  EXPECT_NE(http_get(port, "/generate_204").find("204"), std::string::npos);

  // derpctl region rollout's path: drained, then restarted. The new derpd listens again on the
  // socket the drain shut.
  drain = ctl({"drain", "--deadline", "5s"});
  ASSERT_EQ(drain.exit_code, 0) << drain.err;
  EXPECT_TRUE(connect_refused(port));
  sigterm(node);
  node = std::make_unique<DerpdProcess>(node_flags(port, stun_port), sockets.pass_to_child());
  EXPECT_NE(http_get(port, "/generate_204").find("204"), std::string::npos);
}

// A socket unit and flags that disagree stop start-up with a message naming both.
TEST_F(SocketActivation, SocketForNoListenerStopsStartup) {
  ServiceManagerSockets sockets;
  const std::uint16_t stray = sockets.add_tcp_listener("derp");
  std::string error;
  try {
    DerpdProcess node(node_flags(0, 0), sockets.pass_to_child(), 10s);
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("tcp 127.0.0.1:" + std::to_string(stray)), std::string::npos) << error;
  EXPECT_NE(error.find("matches none of derpd's listeners"), std::string::npos) << error;
}

// The same restart under a real systemd, where the machine runs one as PID 1 (this one does not:
// the test then says so and skips). A transient socket and service, as derpd.socket and
// derpd.service would be: Type=notify start, STATUS= in `systemctl show`, a restart through which
// the dialler sees nothing refused, and a clean stop.
TEST(UnderSystemd, RestartThroughTheSocketUnitRefusesNoConnect) {
  if (::access("/run/systemd/system", F_OK) != 0) {
    GTEST_SKIP() << "systemd is not PID 1 on this machine (/run/systemd/system is missing); the "
                    "tests above play its part instead";
  }
  if (::geteuid() != 0) GTEST_SKIP() << "a system unit needs root";
  auto sh = [](const std::string& command) {
    std::string out;
    if (FILE* p = ::popen((command + " 2>&1").c_str(), "r")) {
      char buf[512];
      while (std::fgets(buf, sizeof buf, p)) out += buf;
      int status = ::pclose(p);
      if (status != 0) out += "[exit status " + std::to_string(status) + "]";
    }
    return out;
  };
  TempDir dir;
  const std::string unit = "derpd-test-" + std::to_string(::getpid());
  const std::uint16_t port = free_port();
  std::string started =
      sh("systemd-run --unit=" + unit + " --property=Type=notify --property=WatchdogSec=30s " +
         "--socket-property=ListenStream=127.0.0.1:" + std::to_string(port) + " " +
         DerpdProcess::binary() + " -a 127.0.0.1:" + std::to_string(port) +
         " --stun=false --admin-socket off -c " + dir.path() + "/node.key");
  struct Cleanup {
    std::function<void()> f;
    ~Cleanup() { f(); }
  } cleanup{[&] {
    sh("systemctl stop " + unit + ".socket " + unit + ".service; systemctl reset-failed " + unit +
       ".service");
  }};
  ASSERT_EQ(started.find("[exit status"), std::string::npos) << started;
  // The socket unit starts the service on the first connect; start it now and wait for READY=1.
  std::string start = sh("systemctl start " + unit + ".service");
  ASSERT_EQ(start.find("[exit status"), std::string::npos) << start;
  EXPECT_NE(sh("systemctl show -p StatusText --value " + unit + ".service").find("serving"),
            std::string::npos);

  Dialer dialer(port);
  ASSERT_TRUE(eventually([&] { return dialer.totals().dials >= 20; }));
  std::string restart = sh("systemctl restart " + unit + ".service");
  ASSERT_EQ(restart.find("[exit status"), std::string::npos) << restart;
  const int dials_at_ready = dialer.totals().dials;
  ASSERT_TRUE(eventually([&] { return dialer.totals().dials >= dials_at_ready + 30; }));
  dialer.stop();
  auto t = dialer.totals();
  std::printf("under systemd: %d dials through a restart, %d refused, longest wait %lld ms\n",
              t.dials, t.refused, t.longest_wait_ms);
  EXPECT_EQ(t.refused, 0) << t.first_failure;
  EXPECT_EQ(t.failed, 0) << t.first_failure;

  std::string stop = sh("systemctl stop " + unit + ".socket " + unit + ".service");
  EXPECT_EQ(stop.find("[exit status"), std::string::npos) << stop;
  EXPECT_EQ(sh("systemctl show -p Result --value " + unit + ".service"), "success\n");
}

}  // namespace
}  // namespace derp::testing
