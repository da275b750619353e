// Monitoring from a monitoring host (deploy/monitoring, --metrics-listen), checked with the tools
// operators use: Debian's promtool on the text a running derpd serves and on the shipped config
// and rules, a real Prometheus scraping derpd, and the Grafana dashboard's queries against the
// metric names derpd really serves. And the logs: quiet under a garbage flood, JSON on request.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/http_text.h"
#include "tests/support/raw_socket.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

using namespace std::chrono_literals;

const std::string kMonitoring = std::string(DERP_SOURCE_DIR) + "/deploy/monitoring";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every metric family name in Prometheus text (from its samples and its # TYPE lines).
std::set<std::string> family_names(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.starts_with("# TYPE ")) {
      names.insert(l.substr(7, l.find(' ', 7) - 7));
    } else if (!l.empty() && l[0] != '#') {
      names.insert(l.substr(0, l.find_first_of("{ ")));
    }
  }
  return names;
}

// The metric names a PromQL expression uses (derpd's families and the prober's).
std::set<std::string> names_in_query(const std::string& expr) {
  static const std::regex name(
      R"(\b((?:derp|derpd|stun|process|tls_listener|derpprobe)_[a-z0-9_]+)\b)");
  std::set<std::string> out;
  for (std::sregex_iterator it(expr.begin(), expr.end(), name), end; it != end; ++it) {
    out.insert((*it)[1]);
  }
  return out;
}

class Monitoring : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_unique<DerpdProcess>(
        std::vector<std::string>{"-a", "127.0.0.1:0", "--stun-port", "0", "-c",
                                 dir_.path() + "/node.key", "--metrics-listen", "127.0.0.1:0",
                                 // Admission on (an empty list admits everyone), so that its
                                 // series exist too.
                                 "--admit-file", dir_.path() + "/admit"});
    port_ = node_->metrics_port();
  }
  TempDir dir_;
  std::unique_ptr<DerpdProcess> node_;
  std::uint16_t port_ = 0;
};

TEST_F(Monitoring, MetricsListenerServesTheVarzTextAndNothingElse) {
  auto metrics = http_request(port_, "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200) << metrics.head;
  EXPECT_EQ(metrics.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  // The same families as /debug/varz on the DERP port (values move between the two reads).
  const auto names = family_names(metrics.body);
  EXPECT_EQ(names, family_names(http_request(node_->port(), "GET", "/debug/varz").body));
  for (const char* want :
       {"derp_current_connections", "derp_packets_dropped", "stun_requests", "derpd_build_info",
        "derpd_drain_state", "derpd_mesh_link_up", "derpd_tls_cert_expiry_timestamp_seconds",
        "process_open_fds", "process_resident_memory_bytes", "process_cpu_seconds_total"}) {
    EXPECT_TRUE(names.contains(want)) << want;
  }
  EXPECT_NE(metrics.body.find("derpd_drain_state{state=\"serving\"} 1\n"), std::string::npos);

  // No DERP, no debug pages, no other methods on this address.
  EXPECT_EQ(http_request(port_, "GET", "/debug/varz").status, 404);
  EXPECT_EQ(http_request(port_, "GET", "/derp", "Upgrade: DERP\r\n").status, 404);
  auto post = http_request(port_, "POST", "/metrics");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.header("allow"), "GET, HEAD");
  // Prometheus keeps its connection: two requests on one, both answered.
  auto both = http_exchange(port_,
                            "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(both.status, 200);
  EXPECT_NE(both.body.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(both.body.find("Prometheus metrics at /metrics"), std::string::npos);
  // A header over 8 KiB is refused, not buffered.
  auto huge = http_exchange(port_, "GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a') +
                                       "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(huge.status, 431);
}

TEST_F(Monitoring, PromtoolAcceptsTheTextTheConfigAndTheRules) {
  const std::string text_file = dir_.path() + "/metrics.txt";
  std::ofstream(text_file) << http_request(port_, "GET", "/metrics").body;
  // Exit 3 means lint findings only; 1 would be text that does not parse. The reference's
  // families keep derper's names (counters without _total), which the linter dislikes; derpd's
  // own must give it nothing to say.
  auto lint = run_to_exit("/bin/sh", {"-c", "promtool check metrics < " + text_file});
  EXPECT_TRUE(lint.exit_code == 0 || lint.exit_code == 3) << lint.output;
  std::istringstream findings(lint.output);
  for (std::string l; std::getline(findings, l);) {
    // process_start_unix_time is derper's; the other process_* are derpd's.
    EXPECT_FALSE(l.starts_with("derpd_") ||
                 (l.starts_with("process_") && !l.starts_with("process_start_unix_time")))
        << l;
  }

  auto config =
      run_to_exit("/usr/bin/promtool", {"check", "config", kMonitoring + "/prometheus.yml"});
  EXPECT_EQ(config.exit_code, 0) << config.output;
  auto rules =
      run_to_exit("/usr/bin/promtool", {"check", "rules", kMonitoring + "/derpd-alerts.yml"});
  EXPECT_EQ(rules.exit_code, 0) << rules.output;
  EXPECT_NE(rules.output.find("SUCCESS: 9 rules found"), std::string::npos) << rules.output;
}

TEST_F(Monitoring, EveryDashboardAndAlertQueryNamesAMetricDerpdServes) {
  const auto served = family_names(http_request(port_, "GET", "/metrics").body);
  auto check = [&](const std::string& where, const std::string& expr) {
    const auto names = names_in_query(expr);
    EXPECT_FALSE(names.empty()) << where << ": " << expr;
    for (const auto& n : names) {
      if (n.starts_with("derpprobe_")) continue;  // the prober's: probe_test checks them
      EXPECT_TRUE(served.contains(n)) << where << " uses " << n << ", which derpd does not serve";
    }
  };
  const auto dashboard = nlohmann::json::parse(read_file(kMonitoring + "/grafana-dashboard.json"));
  int queries = 0;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"]) {
      check("panel \"" + panel["title"].get<std::string>() + "\"", target["expr"]);
      ++queries;
    }
  }
  EXPECT_GE(queries, 12);
  for (const auto& v : dashboard["templating"]["list"]) {
    if (v.contains("definition"))
      check("variable " + v["name"].get<std::string>(), v["definition"]);
  }
  // The alert rules: each rule's expression runs from "expr:" to its "for:".
  const std::string rules = read_file(kMonitoring + "/derpd-alerts.yml");
  int alerts = 0;
  for (std::size_t at = rules.find("- alert: "); at != std::string::npos;
       at = rules.find("- alert: ", at + 1)) {
    const std::string name = rules.substr(at + 9, rules.find('\n', at) - at - 9);
    const auto expr_at = rules.find("expr:", at);
    const std::string expr = rules.substr(expr_at + 5, rules.find("for:", expr_at) - expr_at - 5);
    if (name != "DerpdDown" && name != "DerpProberDown") {
      check("alert " + name, expr);  // up{}: Prometheus's own series
    }
    ++alerts;
  }
  EXPECT_EQ(alerts, 9);
}

// Strangers' garbage costs the operator no log: 10,000 connections that upgrade to DERP and send
// a frame that is not ClientInfo leave only the start-up lines in an info-level log, and the
// counters say what happened.
TEST(Logs, AGarbageFloodLeavesAFewLinesAndIsCounted) {
  TempDir dir;
  DerpdProcess node({"-a", "127.0.0.1:0", "--stun=false", "-c", dir.path() + "/node.key"});
  const std::string start_log = node.log();
  const auto lines_before = std::count(start_log.begin(), start_log.end(), '\n');
  constexpr int kThreads = 4, kPerThread = 2500;
  using namespace std::string_literals;  // the frame holds NUL bytes
  const std::string garbage =
      "GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n"
      "\x07\x00\x00\x00\x04junk"s;
  std::atomic<int> closed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        RawSocket s(node.port());
        s.send_all(garbage);
        // Whatever the node answers (101, its key), it closes the connection.
        auto status = RawSocket::Status::kOk;
        while (status == RawSocket::Status::kOk) status = s.fill(s.buffered().size() + 1, 5s);
        if (status == RawSocket::Status::kClosed) ++closed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(closed.load(), kThreads * kPerThread);
  EXPECT_TRUE(wait_varz(node.port(), "derp_handshake_failures", [](double v) {
    return v >= kThreads * kPerThread;
  })) << varz(node.port(), "derp_handshake_failures");
  EXPECT_EQ(varz(node.port(), "derp_accepts"), kThreads * kPerThread);
  const std::string log = node.log();
  const auto lines = std::count(log.begin(), log.end(), '\n') - lines_before;
  std::printf("[ log      ] %ld lines after %d garbage connections\n", static_cast<long>(lines),
              kThreads * kPerThread);
  EXPECT_LE(lines, 30) << log;
}

TEST(Logs, JsonFormatIsOneObjectPerLine) {
  TempDir dir;
  auto node = std::make_unique<DerpdProcess>(std::vector<std::string>{
      "-a", "127.0.0.1:0", "--stun=false", "-c", dir.path() + "/node.key", "--log-format", "json"});
  node->stop();
  std::istringstream log(node->log());
  int objects = 0;
  bool saw_ready = false;
  bool saw_drain_event = false;
  for (std::string l; std::getline(log, l);) {
    auto j = nlohmann::json::parse(l);  // throws (and fails the test) on a line that is not JSON
    ASSERT_TRUE(j.is_object()) << l;
    EXPECT_TRUE(j["time"].is_string() && j["time"].get<std::string>().ends_with("Z")) << l;
    EXPECT_TRUE(j["level"] == "info" || j["level"] == "warning" || j["level"] == "debug") << l;
    saw_ready =
        saw_ready || j["msg"].get<std::string>().find(" ready: DERP on ") != std::string::npos;
    // Events carry a name and key fields: SIGTERM drains, and the state change says which.
    saw_drain_event = saw_drain_event ||
                      (j.value("event", "") == "drain_state" && j.value("state", "") == "draining");
    ++objects;
  }
  EXPECT_GE(objects, 3);
  EXPECT_TRUE(saw_ready) << node->log();
  EXPECT_TRUE(saw_drain_event) << node->log();
}

// A Prometheus of Debian's, started here with a scrape config pointing at derpd's metrics port.
TEST_F(Monitoring, ARealPrometheusScrapesDerpd) {
  const std::uint16_t web_port = free_port();
  const std::string config = dir_.path() + "/prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 1s\nscrape_configs:\n"
                        << "  - job_name: derpd\n    static_configs:\n"
                        << "      - targets: [\"127.0.0.1:" << port_ << "\"]\n";
  const std::string log = dir_.path() + "/prometheus.log";
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(log_fd, 0);
  pid_t prometheus =
      spawn_child("/usr/bin/prometheus",
                  {"--config.file=" + config, "--storage.tsdb.path=" + dir_.path() + "/tsdb",
                   "--web.listen-address=127.0.0.1:" + std::to_string(web_port)},
                  log_fd, log_fd);
  ::close(log_fd);
  struct Stop {
    pid_t& pid;
    ~Stop() { stop_child(pid, SIGTERM, 10s); }
  } stop{prometheus};

  // derpd's series, through PromQL over Prometheus's HTTP API, once it has scraped.
  std::string answer;
  const bool scraped = eventually(
      [&] {
        try {
          answer = http_get(web_port, "/api/v1/query?query=derpd_build_info");
        } catch (const std::runtime_error& e) {
          answer = e.what();  // Prometheus is still starting
        }
        return answer.find("\"job\":\"derpd\"") != std::string::npos;
      },
      60s);
  ASSERT_TRUE(scraped) << answer << "\n" << read_file(log);
  EXPECT_NE(answer.find("\"version\":"), std::string::npos) << answer;
  answer = http_get(web_port, "/api/v1/query?query=up%7Bjob%3D%22derpd%22%7D");
  EXPECT_NE(answer.find(",\"1\"]"), std::string::npos) << "the scrape is up: " << answer;
  answer = http_get(web_port, "/api/v1/query?query=derp_current_connections");
  EXPECT_NE(answer.find("\"__name__\":\"derp_current_connections\""), std::string::npos) << answer;
}

}  // namespace
}  // namespace derp::testing
