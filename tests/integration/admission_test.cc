// Who may use the relay (protocol §4.9), end to end: a real derpd, a real admission controller
// (Python's http.server, tests/integration/admission/controller.py) and, for --verify-clients, a
// stand-in for tailscaled's LocalAPI on a unix socket (localapi.py: tailscaled itself cannot be
// installed on the test machines, so the stand-in serves the documented whois contract). A client
// counts as admitted when it receives ServerInfo, i.e. when DerpClient::connect returns.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "relay/tls/test_ca.h"
#include "tests/integration/admin/derpctl_runner.h"
#include "tests/integration/admission/loopback_node.h"
#include "tests/support/async_runner.h"
#include "tests/support/child_process.h"
#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string helper_script(const std::string& name) {
  return std::string(DERP_SOURCE_DIR) + "/tests/integration/admission/" + name;
}

// A Python helper process, stopped when the test ends; `first_line` is what it printed once it
// served ("port N" or "ready").
class Helper {
 public:
  explicit Helper(std::vector<std::string> args) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_ = spawn_child("/usr/bin/python3", args, out[1], -1);
    ::close(out[1]);
    const auto deadline = Clock::now() + 10s;
    while (first_line.find('\n') == std::string::npos && Clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      first_line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    if (first_line.find('\n') == std::string::npos) {
      stop_child(pid_, SIGKILL, 5s);
      throw std::runtime_error("helper " + args.front() + " did not start");
    }
  }
  ~Helper() { stop_child(pid_, SIGTERM, 5s); }
  std::string first_line;

 private:
  pid_t pid_ = -1;
};

// Reads until the connection ends; returns why. (A function, not a lambda: spawn() returns at
// once, and a temporary lambda's captures would die before the coroutine ends.)
boost::asio::awaitable<std::string> read_until_closed(client::DerpClient& c) {
  std::string why;
  try {
    for (;;) co_await next_message(c);
  } catch (const std::exception& e) {
    why = e.what();
  }
  co_return why;
}

class Admission : public ::testing::Test {
 protected:
  // derpd with `flags` added to the usual loopback ones.
  std::unique_ptr<DerpdProcess> start_node(const std::vector<std::string>& flags) {
    return start_loopback_node(dir_.path(), flags);
  }
  // The controller's base URL.
  std::string start_controller() {
    controller_ = std::make_unique<Helper>(
        std::vector<std::string>{helper_script("controller.py"), dir_.path()});
    return "http://127.0.0.1:" +
           controller_->first_line.substr(5, controller_->first_line.size() - 6);
  }
  // How a client fares: "" when admitted (ServerInfo arrived), else the error.
  std::string try_connect(const std::string& url, protocol::NodePrivate key,
                          std::optional<protocol::KeyBytes> mesh_key = {}) {
    return runner_.run([&]() -> boost::asio::awaitable<std::string> {
      client::ClientOptions o;
      o.url = url;
      o.key = key;
      o.mesh_key = mesh_key;
      o.timeout = 15s;
      std::string error;
      try {
        auto c = co_await client::DerpClient::connect(co_await boost::asio::this_coro::executor, o);
        c->close();
      } catch (const std::exception& e) {
        error = e.what();
      }
      co_return error.empty() ? std::string() : "refused: " + error;
    }());
  }
  std::vector<nlohmann::json> controller_requests() {
    std::vector<nlohmann::json> out;
    std::ifstream in(dir_.path() + "/requests.jsonl");
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }

  TempDir dir_;
  AsyncRunner runner_;
  std::unique_ptr<Helper> controller_;
};

TEST_F(Admission, ControllerAllowsAndTheRequestIsTheReferencesShape) {
  const std::string url = start_controller();
  auto node = start_node({"--verify-client-url", url + "/allow"});
  auto key = protocol::NodePrivate::generate();
  EXPECT_EQ(try_connect(node->derp_url(), key), "");
  auto requests = controller_requests();
  ASSERT_EQ(requests.size(), 1u);
  auto body = nlohmann::json::parse(requests[0]["body"].get<std::string>());
  EXPECT_EQ(body["NodePublic"], key.public_key().to_text());
  EXPECT_EQ(body["Source"], "127.0.0.1");
  EXPECT_EQ(body.size(), 2u) << body;
  EXPECT_TRUE(requests[0]["content_type"].is_null()) << "no explicit Content-Type";
}

TEST_F(Admission, ControllerDenialsRejectEvenWhenFailOpen) {
  const std::string url = start_controller();
  for (const char* path : {"/deny", "/error", "/big"}) {
    auto node = start_node({"--verify-client-url", url + path});
    EXPECT_NE(try_connect(node->derp_url(), protocol::NodePrivate::generate()), "") << path;
    EXPECT_NE(node->log().find("admission: refused"), std::string::npos) << path << node->log();
    EXPECT_NE(http_get(node->port(), "/debug/varz")
                  .find("derp_admission_total{source=\"url\",result=\"rejected\"} 1\n"),
              std::string::npos)
        << path;
  }
}

TEST_F(Admission, UnreachableControllerAdmitsOnlyWhenFailOpen) {
  // A port nobody listens on: the request cannot be made at all.
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(free_port()) + "/";
  auto open = start_node({"--verify-client-url", nowhere});
  EXPECT_EQ(try_connect(open->derp_url(), protocol::NodePrivate::generate()), "");
  EXPECT_NE(open->log().find("admitting anyway"), std::string::npos) << open->log();
  EXPECT_NE(http_get(open->port(), "/debug/varz")
                .find("derp_admission_total{source=\"url\",result=\"admitted_fail_open\"} 1\n"),
            std::string::npos);
  auto closed = start_node({"--verify-client-url", nowhere, "--verify-client-url-fail-open=false"});
  EXPECT_NE(try_connect(closed->derp_url(), protocol::NodePrivate::generate()), "");
}

TEST_F(Admission, ASlowControllerTimesOutAfterFiveSecondsThenFailOpenDecides) {
  const std::string url = start_controller();
  auto open = start_node({"--verify-client-url", url + "/slow"});
  auto started = Clock::now();
  EXPECT_EQ(try_connect(open->derp_url(), protocol::NodePrivate::generate()), "");
  auto waited = Clock::now() - started;
  EXPECT_GE(waited, 4500ms);
  EXPECT_LT(waited, 9s);
  auto closed =
      start_node({"--verify-client-url", url + "/slow", "--verify-client-url-fail-open=false"});
  EXPECT_NE(try_connect(closed->derp_url(), protocol::NodePrivate::generate()), "");
}

TEST_F(Admission, MeshPeersAreAdmittedWithoutAsking) {
  const std::string url = start_controller();
  auto node = start_node({"--verify-client-url", url + "/deny"});
  EXPECT_EQ(try_connect(node->derp_url(), protocol::NodePrivate::generate(), test_mesh_key()), "");
  EXPECT_TRUE(controller_requests().empty());
  const std::string varz = http_get(node->port(), "/debug/varz");
  EXPECT_NE(varz.find("derp_admission_total{source=\"mesh\",result=\"admitted\"} 1\n"),
            std::string::npos)
      << varz;
  EXPECT_NE(varz.find("derp_admission_total{source=\"url\",result=\"rejected\"} 0\n"),
            std::string::npos);
}

// The controller takes 5 s for some keys; meanwhile 50 other clients connect and a pair relays.
TEST_F(Admission, ASlowControllerDelaysNobodyElse) {
  const std::string url = start_controller();
  auto node = start_node({"--verify-client-url", url + "/by-key"});
  std::vector<protocol::NodePrivate> slow;
  {
    std::ofstream keys(dir_.path() + "/slow-keys");
    for (int i = 0; i < 5; ++i) {
      slow.push_back(protocol::NodePrivate::generate());
      keys << slow.back().public_key().to_text() << "\n";
    }
  }
  AsyncRunner slow_runner;
  std::vector<std::future<std::unique_ptr<client::DerpClient>>> waiting;
  for (auto& k : slow) waiting.push_back(slow_runner.spawn(connect_client(node->derp_url(), k)));

  auto pair = runner_.run([&]() -> boost::asio::awaitable<long long> {
    auto a = co_await connect_client(node->derp_url());
    auto b = co_await connect_client(node->derp_url());
    auto started = Clock::now();
    co_await a->send_packet(b->public_key(), protocol::Bytes(numbered_packet(1, 100)));
    co_await next_packet(*b);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    a->close();
    b->close();
    co_return ms.count();
  }());
  long long slowest_connect_ms = 0;
  for (int i = 0; i < 50; ++i) {
    auto started = Clock::now();
    EXPECT_EQ(try_connect(node->derp_url(), protocol::NodePrivate::generate()), "");
    slowest_connect_ms = std::max<long long>(
        slowest_connect_ms,
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
  }
  // The slow ones are still waiting for their answer, and get in once it comes.
  for (auto& w : waiting) EXPECT_EQ(w.wait_for(0s), std::future_status::timeout);
  for (auto& w : waiting) {
    ASSERT_EQ(w.wait_for(15s), std::future_status::ready);
    auto c = w.get();
    c->close();
  }
  std::printf(
      "while 5 clients waited 5 s for the controller: a packet between two others took "
      "%lld ms, 50 other clients connected in at most %lld ms each\n",
      pair, slowest_connect_ms);
  EXPECT_LT(pair, 1000);
  EXPECT_LT(slowest_connect_ms, 1000);
}

TEST_F(Admission, VerifyClientsAsksTailscaledsWhois) {
  const std::string socket = dir_.path() + "/tailscaled.sock";
  const std::string keys_file = dir_.path() + "/tailnet-keys";
  auto member = protocol::NodePrivate::generate();
  std::ofstream(keys_file) << member.public_key().to_text() << "\n";
  Helper localapi({helper_script("localapi.py"), socket, keys_file});
  auto node = start_node({"--verify-clients", "--socket", socket});
  EXPECT_EQ(try_connect(node->derp_url(), member), "");
  EXPECT_NE(try_connect(node->derp_url(), protocol::NodePrivate::generate()), "");
  std::ifstream log(socket + ".log");
  std::string first;
  std::getline(log, first);
  EXPECT_EQ(first, "/localapi/v0/whois?addr=nodekey%3A" + member.public_key().to_hex() + " cap=56");
  EXPECT_NE(node->log().find("not a node of this tailnet"), std::string::npos) << node->log();
}

TEST_F(Admission, VerifyClientsSaysWhenTailscaledIsTooOld) {
  const std::string socket = dir_.path() + "/tailscaled.sock";
  const std::string keys_file = dir_.path() + "/tailnet-keys";
  std::ofstream(keys_file) << "";
  Helper localapi({helper_script("localapi.py"), socket, keys_file, "--too-old"});
  auto node = start_node({"--verify-clients", "--socket", socket});
  EXPECT_NE(try_connect(node->derp_url(), protocol::NodePrivate::generate()), "");
  EXPECT_NE(node->log().find("tailscaled is too old"), std::string::npos) << node->log();
}

TEST_F(Admission, VerifyClientsWithoutTailscaledRejects) {
  auto node = start_node({"--verify-clients", "--socket", dir_.path() + "/nobody.sock"});
  EXPECT_NE(try_connect(node->derp_url(), protocol::NodePrivate::generate()), "");
  EXPECT_NE(node->log().find("tailscaled did not answer"), std::string::npos) << node->log();
}

// The example controller operators get in deploy/admission.
TEST_F(Admission, TheDeployedAllowListControllerAdmitsListedKeysOnly) {
  auto member = protocol::NodePrivate::generate();
  const std::string keys = dir_.path() + "/allowed-nodes";
  std::ofstream(keys) << "# our laptops\n" << member.public_key().to_text() << "  # alice\n";
  Helper controller({std::string(DERP_SOURCE_DIR) + "/deploy/admission/allowlist-controller.py",
                     "--keys", keys, "--listen", "127.0.0.1:0"});
  const std::string listening = controller.first_line;  // "listening on 127.0.0.1:PORT\n"
  const std::string port = listening.substr(listening.rfind(':') + 1);
  auto node = start_node({"--verify-client-url",
                          "http://127.0.0.1:" + port.substr(0, port.size() - 1) + "/",
                          "--verify-client-url-fail-open=false"});
  EXPECT_EQ(try_connect(node->derp_url(), member), "");
  EXPECT_NE(try_connect(node->derp_url(), protocol::NodePrivate::generate()), "");
}

TEST_F(Admission, CachedAnswersSpareTheControllerDuringAReconnectStorm) {
  const std::string url = start_controller();
  auto cached = start_node({"--verify-client-url", url + "/allow", "--verify-cache-ttl", "1m"});
  auto key = protocol::NodePrivate::generate();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(try_connect(cached->derp_url(), key), "") << i;
  EXPECT_EQ(controller_requests().size(), 1u);
  EXPECT_NE(http_get(cached->port(), "/debug/varz")
                .find("derp_admission_total{source=\"cache\",result=\"admitted\"} 4\n"),
            std::string::npos);
  // Without the flag every connect asks.
  auto uncached = start_node({"--verify-client-url", url + "/allow"});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(try_connect(uncached->derp_url(), key), "") << i;
  EXPECT_EQ(controller_requests().size(), 4u);
}

TEST_F(Admission, AFailOpenAdmitIsNeverCached) {
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(free_port()) + "/";
  auto node = start_node({"--verify-client-url", nowhere, "--verify-cache-ttl", "1m"});
  auto key = protocol::NodePrivate::generate();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(try_connect(node->derp_url(), key), "") << i;
  EXPECT_NE(http_get(node->port(), "/debug/varz")
                .find("derp_admission_total{source=\"url\",result=\"admitted_fail_open\"} 3\n"),
            std::string::npos);
}

// An https:// controller is verified against the system trust store, which SSL_CERT_FILE (inherited
// by derpd) points at a throwaway CA here.
TEST_F(Admission, AnHttpsControllerIsVerifiedAgainstTheTrustStore) {
  auto pki = tls::write_test_pki(dir_.path() + "/pki", {"127.0.0.1"});
  controller_ = std::make_unique<Helper>(std::vector<std::string>{
      helper_script("controller.py"), dir_.path(), pki.leaf_cert, pki.leaf_key});
  const std::string port = controller_->first_line.substr(5, controller_->first_line.size() - 6);
  const std::string url = "https://127.0.0.1:" + port + "/allow";
  {
    ::setenv("SSL_CERT_FILE", pki.ca_cert.c_str(), 1);
    auto trusted = start_node({"--verify-client-url", url, "--verify-client-url-fail-open=false"});
    ::unsetenv("SSL_CERT_FILE");
    EXPECT_EQ(try_connect(trusted->derp_url(), protocol::NodePrivate::generate()), "");
    EXPECT_EQ(controller_requests().size(), 1u);
  }
  // Without the CA the certificate does not verify: the call cannot be made, which fail-open
  // would admit and fail-closed refuses.
  auto untrusted = start_node({"--verify-client-url", url, "--verify-client-url-fail-open=false"});
  EXPECT_NE(try_connect(untrusted->derp_url(), protocol::NodePrivate::generate()), "");
  EXPECT_NE(untrusted->log().find("TLS handshake"), std::string::npos) << untrusted->log();
  EXPECT_EQ(controller_requests().size(), 1u);
}

// --admit-file and derpctl admit: derpd's own allow and deny rules.
TEST_F(Admission, AllowRulesAloneRefuseEveryoneElseAndADenyClosesAConnectedClient) {
  auto alice = protocol::NodePrivate::generate();
  const std::string file = dir_.path() + "/admit";
  std::ofstream(file) << "allow " << alice.public_key().to_text() << "  # alice\n";
  const std::string admin = "unix:" + dir_.path() + "/admin.sock";
  auto node = start_node({"--admit-file", file, "--admin-socket", dir_.path() + "/admin.sock"});
  EXPECT_EQ(try_connect(node->derp_url(), alice), "");
  EXPECT_NE(try_connect(node->derp_url(), protocol::NodePrivate::generate()), "");
  EXPECT_NE(node->log().find("not on the admit list"), std::string::npos) << node->log();

  // Alice stays connected while an operator denies her.
  auto connected = runner_.run(connect_client(node->derp_url(), alice));
  auto ended = runner_.spawn(read_until_closed(*connected));
  auto deny = run_derpctl({"--admin", admin, "admit", "deny", alice.public_key().to_text()});
  ASSERT_EQ(deny.exit_code, 0) << deny.err;
  EXPECT_NE(deny.out.find("closed 1 connected client(s)"), std::string::npos) << deny.out;
  EXPECT_EQ(ended.wait_for(5s), std::future_status::ready) << "alice is still connected";
  connected->close();
  EXPECT_NE(try_connect(node->derp_url(), alice), "");
  // The change is in the file, and derpctl admit lists it.
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("deny " + alice.public_key().to_text()), std::string::npos) << text;
  auto listed = run_derpctl({"--admin", admin, "-o", "json", "admit"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(nlohmann::json::parse(listed.out)["rules"],
            nlohmann::json::array({"deny " + alice.public_key().to_text()}));
  auto recent = run_derpctl({"--admin", admin, "-o", "json", "admit", "recent"});
  ASSERT_EQ(recent.exit_code, 0) << recent.err;
  auto refusals = nlohmann::json::parse(recent.out);
  ASSERT_EQ(refusals.size(), 2u) << refusals;
  EXPECT_EQ(refusals[0]["reason"], "not on the admit list");
  EXPECT_EQ(refusals[1]["key"], alice.public_key().to_text());
  EXPECT_EQ(refusals[1]["source"], "127.0.0.1");
  EXPECT_NE(refusals[1]["reason"].get<std::string>().find("deny " + alice.public_key().to_text()),
            std::string::npos);
  auto bad = run_derpctl({"--admin", admin, "admit", "deny", "example.com"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("not a node key or an address range"), std::string::npos) << bad.err;
  EXPECT_NE(http_get(node->port(), "/debug/varz")
                .find("derp_admission_total{source=\"list\",result=\"rejected\"} 2\n"),
            std::string::npos);
}

TEST_F(Admission, AnAllowRuleSkipsTheControllerAndSighupReloadsTheRules) {
  const std::string url = start_controller();
  auto alice = protocol::NodePrivate::generate();
  const std::string file = dir_.path() + "/admit";  // missing at start: no rules
  auto node = start_node({"--admit-file", file, "--verify-client-url", url + "/deny"});
  EXPECT_NE(try_connect(node->derp_url(), alice), "");
  EXPECT_EQ(controller_requests().size(), 1u);
  std::ofstream(file) << "allow " << alice.public_key().to_text() << "\n";
  ::kill(node->pid(), SIGHUP);
  ASSERT_TRUE(
      eventually([&] { return node->log().find("rules reloaded: 1") != std::string::npos; }));
  EXPECT_EQ(try_connect(node->derp_url(), alice), "");
  EXPECT_EQ(controller_requests().size(), 1u) << "an allowed key is not asked about";
  // A file that no longer parses keeps the rules that were loaded.
  std::ofstream(file) << "permit everyone\n";
  ::kill(node->pid(), SIGHUP);
  EXPECT_TRUE(eventually([&] { return node->log().find("not reloaded") != std::string::npos; }));
  EXPECT_EQ(try_connect(node->derp_url(), alice), "");
}

TEST_F(Admission, ABadControllerUrlStopsStartup) {
  EXPECT_THROW(start_node({"--verify-client-url", "ftp://example.com/"}), std::runtime_error);
}

}  // namespace
}  // namespace derp::testing
