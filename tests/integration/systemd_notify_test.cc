// derpd under systemd's Type=notify, seen from systemd's side: the test binds the notify socket
// (a unix datagram socket, the real protocol of sd_notify(3)) and starts a real derpd with
// NOTIFY_SOCKET and WATCHDOG_USEC pointing at it, as systemd would. A running systemd as PID 1
// is not needed, so this runs everywhere; deploy/systemd's units are checked by
// systemd_units_verify.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/async_runner.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"

namespace derp::testing {
namespace {

using namespace std::chrono_literals;

// The service manager's end: a thread keeps reading, as systemd does (a full queue would block
// derpd's sd_notify), and until() waits for a datagram that contains a given text.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      throw std::runtime_error("bind " + path + ": " + std::strerror(errno));
    }
    reader_ = std::thread([this] { read_loop(); });
  }
  ~NotifySocket() {
    stop_ = true;
    reader_.join();
    ::close(fd_);
  }

  // Waits for the next datagram containing `needle`, skipping the ones before it.
  std::optional<std::string> until(const std::string& needle, std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
      while (next_ < received_.size()) {
        const std::string& m = received_[next_++];
        if (m.find(needle) != std::string::npos) return m;
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && next_ == received_.size()) {
        return std::nullopt;
      }
    }
  }

 private:
  void read_loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      std::lock_guard lock(mu_);
      received_.emplace_back(buf, static_cast<std::size_t>(n));
      cv_.notify_all();
    }
  }

  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> received_;
  std::size_t next_ = 0;
};

// Sets environment variables for the children started while it lives (derpd inherits them).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

TEST(SystemdNotify, ReadyStatusWatchdogAndAStoppingDrain) {
  TempDir dir;
  NotifySocket notify(dir.path() + "/notify");
  std::optional<DerpdProcess> derpd;
  {
    ScopedEnv socket_env("NOTIFY_SOCKET", dir.path() + "/notify");
    ScopedEnv watchdog_env("WATCHDOG_USEC", "400000");
    derpd.emplace(std::vector<std::string>{"-a", "127.0.0.1:0", "--stun-port", "0", "-c",
                                           dir.path() + "/key", "--shutdown-grace", "10s"});
  }

  // READY=1 comes with the first status, once the listener answers (DerpdProcess has connected).
  auto ready = notify.until("READY=1", 10s);
  ASSERT_TRUE(ready) << "no READY=1 within 10 s";
  EXPECT_NE(ready->find("STATUS=serving 0 clients"), std::string::npos) << *ready;

  // The keep-alive every 200 ms (half of WATCHDOG_USEC) while the workers turn.
  auto start = std::chrono::steady_clock::now();
  int pings = 0;
  while (pings < 5 && std::chrono::steady_clock::now() - start < 5s) {
    if (notify.until("WATCHDOG=1", 2s)) ++pings;
  }
  EXPECT_EQ(pings, 5) << "fewer than 5 WATCHDOG=1 within 5 s";

  // A client shows up in the status line.
  AsyncRunner runner;
  std::unique_ptr<client::DerpClient> c;
  runner.run(
      [&]() -> boost::asio::awaitable<void> { c = co_await connect_client(derpd->derp_url()); }());
  EXPECT_TRUE(notify.until("STATUS=serving 1 client", 10s)) << "no status with the client";

  // SIGTERM: STOPPING=1 and more stop time (the grace plus 5 s at most), then exit 0.
  ::kill(derpd->pid(), SIGTERM);
  auto stopping = notify.until("STOPPING=1", 10s);
  ASSERT_TRUE(stopping) << "no STOPPING=1 after SIGTERM";
  EXPECT_NE(stopping->find("STATUS=shutting down:"), std::string::npos) << *stopping;
  auto extend = notify.until("EXTEND_TIMEOUT_USEC=", 10s);
  ASSERT_TRUE(extend);
  auto usec = std::stoll(extend->substr(extend->find('=') + 1));
  EXPECT_GT(usec, 10'000'000);
  EXPECT_LE(usec, 15'000'000);
  int status = derpd->stop(0);  // signal 0: only wait for the exit the first SIGTERM began
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << derpd->log();
}

// Without NOTIFY_SOCKET derpd says nothing to systemd and logs nothing about it.
TEST(SystemdNotify, OutsideSystemdNothingIsSent) {
  TempDir dir;
  ::unsetenv("NOTIFY_SOCKET");
  DerpdProcess derpd({"-a", "127.0.0.1:0", "--stun=false", "-c", dir.path() + "/key"});
  EXPECT_EQ(derpd.log().find("systemd"), std::string::npos) << derpd.log();
}

}  // namespace
}  // namespace derp::testing
