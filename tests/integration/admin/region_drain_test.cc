// Draining a node of a region with clients that fail over the way Tailscale's do
// (tests/support/region_client.h): they walk the region in DERP-map order, move on only when a TCP
// connect fails, start again at the first node after any other failure, and ignore Restarting.
// A drain that merely answered 503 strands them (they keep dialling the draining node first); a
// drain that stops accepting at TCP moves them to a sibling in milliseconds.
//
// 20 pairs exchange a numbered packet every 10 ms each way: 10 pairs both on node 0, 10 split
// between node 0 and a sibling (30 clients on node 0, 10 elsewhere). At 10 s `derpctl drain`
// drains node 0; the runs last 30 s. Asserted for 2- and 3-node regions, plain HTTP and TLS
// (the 3-node runs add a crowd, 300 clients on node 0 in all): the worst pair's loss and longest
// gap, every client of node 0 on a sibling, no connection reset, and the time to an empty node.
// The figures are printed and recorded as test properties (docs/admin.md, "Draining a node").
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "relay/tls/test_ca.h"
#include "tests/integration/admin/derpctl_runner.h"
#include "tests/support/async_runner.h"
#include "tests/support/build_kind.h"
#include "tests/support/derpd_process.h"
#include "tests/support/http_get.h"
#include "tests/support/region_client.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kTick = milliseconds(10);

// The targets of a drain (no worse than kill -9 of a node). Sanitizer builds run several times
// slower on shared cores: there the bounds are looser, still far below what a drain that strands
// clients does (tens of percent, seconds of silence).
// Sanitizer builds: the SIGTERM shape runs 10 s, so the ~20 packets in flight through the exiting
// node are 2.0-2.5 % of a pair's flow there (seen in CI on 2 shared cores); the gap bound and the
// 0.5 % of normal builds are what catch a drain that strands clients.
constexpr double kMaxLossPercent = kSanitizerBuild ? 3.0 : 0.5;
// The gap: with TLS and 300 clients an ASan derpd's handshakes on the siblings take 0.9-1.25 s
// to absorb a drained node's clients (measured before and after the ACME change, 3 runs each on
// a quiet 2-core box), so 1 s failed now and then; a stranding drain leaves gaps of many seconds.
constexpr long long kMaxGapMs = kSanitizerBuild ? 2000 : 250;

long long ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<milliseconds>(to - from).count();
}

// "+812 ms end of stream, +840 ms on node 1": a client's moves, timed from `origin`.
std::string moves_of(const RegionClient& c, Clock::time_point origin) {
  std::string out;
  for (const auto& e : c.history()) {
    if (e.at < origin) continue;
    if (!out.empty()) out += ", ";
    out += "+" + std::to_string(ms_between(origin, e.at)) + " ms " + e.what;
  }
  return out.empty() ? "did not move" : out;
}

struct Scenario {
  int nodes = 2;
  bool tls = false;
  int crowd = 0;  // extra idle clients on node 0
  bool honours_restarting = false;
  bool sigterm = false;  // stop node 0 with SIGTERM (it drains, then exits) instead of derpctl
  // With sigterm: node 0 runs with --shutdown-grace 0, the exit-at-once behaviour derpd had before
  // SIGTERM drained (and derper has). A measurement for comparison: its loss and gap bounds are
  // not asserted; that every client ends up on a sibling is.
  bool exit_at_once = false;
  // The measurement: the event at 10 s of a 30 s run. Sanitizer builds, which run the
  // shapes one after another on a CI budget, use 5 s of 15 (their bounds are looser anyway).
  seconds before{kSanitizerBuild ? 5 : 10}, total{kSanitizerBuild ? 15 : 30};
};

struct Pair {
  RegionClient* a;  // on node 0
  RegionClient* b;  // on node 0 too, or on a sibling
  Flow a_to_b, b_to_a;
  bool split = false;
};

class RegionDrain : public ::testing::Test {
 protected:
  void start_region(const Scenario& sc) {
    sc_ = sc;
    std::ofstream(dir_.path() + "/mesh.key")
        << "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    if (sc.tls) {
      pki_ = tls::write_test_pki(dir_.path(), {"127.0.0.1"});
      ::setenv("SSL_CERT_FILE", pki_.ca_cert.c_str(), 1);  // the nodes' mesh links trust it
    }
    ports_.resize(sc.nodes);
    for (auto& p : ports_) p = free_port();
    for (int i = 0; i < sc.nodes; ++i) {
      urls_.push_back(std::string(sc.tls ? "https" : "http") +
                      "://127.0.0.1:" + std::to_string(ports_[i]) + "/derp");
    }
    for (int i = 0; i < sc.nodes; ++i) {
      std::string siblings;
      for (int j = 0; j < sc.nodes; ++j) {
        if (j == i) continue;
        if (!siblings.empty()) siblings += ",";
        siblings +=
            (sc.tls ? "" : "http://") + std::string("127.0.0.1:") + std::to_string(ports_[j]);
      }
      auto args = region_node_flags(dir_.path(), ports_[i], i, socket(i));
      args.insert(args.end(), {"--mesh-with", siblings});
      if (i == 0 && sc.exit_at_once) args.insert(args.end(), {"--shutdown-grace", "0"});
      if (sc.tls) {
        for (const char* a :
             {"--http-port", "-1", "--certmode", "manual", "--hostname", "127.0.0.1"}) {
          args.push_back(a);
        }
        args.push_back("--certdir");
        args.push_back(dir_.path());
      }
      nodes_.push_back(std::make_unique<DerpdProcess>(args));
    }
    for (int i = 0; i < sc.nodes; ++i) {
      ASSERT_TRUE(eventually([&] { return links_up(i) == sc.nodes - 1; }))
          << "node " << i << " mesh: " << mesh_states(i) << "\nlog:\n"
          << nodes_[i]->log();
    }
  }

  void TearDown() override {
    shutdown();
    ::unsetenv("SSL_CERT_FILE");
  }

  std::string socket(int i) const { return dir_.path() + "/admin" + std::to_string(i) + ".sock"; }
  std::string admin(int i) const { return "unix:" + socket(i); }
  DerpctlResult ctl(int i, std::vector<std::string> args) const {
    args.insert(args.begin(), {"--admin", admin(i)});
    return run_derpctl(std::move(args));
  }

  json ctl_json(int i, std::vector<std::string> args) const {
    args.insert(args.begin(), {"-o", "json"});
    auto r = ctl(i, std::move(args));
    if (r.exit_code != 0) return json();
    return json::parse(r.out, nullptr, false);
  }
  int links_up(int i) const {
    int n = 0;
    auto links = ctl_json(i, {"mesh"});
    if (!links.is_array()) return 0;
    for (const auto& l : links)
      n += l.value("state", std::string{}) == "MESH_LINK_STATE_UP" ? 1 : 0;
    return n;
  }
  std::string mesh_states(int i) const {
    auto r = ctl(i, {"-o", "json", "mesh"});
    return r.exit_code == 0 ? r.out : "derpctl mesh failed: " + r.err;
  }
  // Non-mesh client keys connected to node i; nullopt when derpctl could not say.
  std::optional<std::set<std::string>> client_keys(int i) const {
    std::set<std::string> keys;
    auto clients = ctl_json(i, {"clients"});
    if (!clients.is_array()) return std::nullopt;
    for (const auto& c : clients) {
      if (!c.value("mesh_peer", false)) keys.insert(c.value("key", std::string{}));
    }
    return keys;
  }

  // The region as a client homed on `home` sees it: its home first, then the others in map order.
  // The crowd runs on a thread of its own: its 270 TLS handshakes must not delay the pairs' sends
  // and receives, as they would not on real, separate machines.
  RegionClient& add_client(int home, Flow* inbound, AsyncRunner* on = nullptr) {
    AsyncRunner& runner = on ? *on : runner_;
    RegionClientOptions o;
    o.urls.push_back(urls_[home]);
    for (int i = 0; i < sc_.nodes; ++i) {
      if (i != home) o.urls.push_back(urls_[i]);
    }
    if (sc_.tls) o.ca_file = pki_.ca_cert;
    o.honours_restarting = sc_.honours_restarting;
    clients_.push_back(std::make_unique<RegionClient>(runner.executor(), o, inbound));
    homes_.push_back(home);
    runners_.push_back(&runner);
    return *clients_.back();
  }

  // Sends a numbered packet from `from` to `to` every tick. A send that blocks on a reconnect
  // delays the next ticks, as a real client's queue does; they then go out back to back.
  asio::awaitable<void> send_every_tick(RegionClient& from, const RegionClient& to, Flow& flow) {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer tick(ex);
    const protocol::NodePublic dst = to.public_key();
    auto next = Clock::now();
    while (!stop_flows_) {
      std::uint32_t seq = flow.next_seq++;
      auto packet = numbered_packet(seq, 100);
      (void)co_await from.send(dst, protocol::Bytes(packet));
      next += kTick;
      tick.expires_at(next);
      boost::system::error_code ec;
      co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  // Connects, and like a real client tries again (every 100 ms) after a failed attempt.
  static asio::awaitable<void> connect_once(RegionClient& c) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    while (!co_await c.ensure_connected() && !c.stopped()) {
      pause.expires_after(milliseconds(100));
      boost::system::error_code ec;
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  template <class F>
  auto on_runner(F f) {
    return runner_.run([&f]() -> asio::awaitable<decltype(f())> { co_return f(); }());
  }

  void shutdown() {
    if (clients_.empty()) return;
    try {
      for (AsyncRunner* r : {&runner_, &crowd_runner_}) {
        r->run([this, r]() -> asio::awaitable<void> {
          if (r == &runner_) stop_flows_ = true;  // read on runner_'s thread only
          for (std::size_t i = 0; i < clients_.size(); ++i) {
            if (runners_[i] == r) clients_[i]->stop();
          }
          co_return;
        }());
      }
      for (auto& t : tasks_) t.wait_for(seconds(10));
      // Let cancelled handlers run while the clients still exist.
      for (AsyncRunner* r : {&runner_, &crowd_runner_}) {
        r->run([]() -> asio::awaitable<void> { co_return; }());
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "shutdown: " << e.what();
    }
    tasks_.clear();
  }

  void run(const Scenario& sc);

  Scenario sc_;
  TempDir dir_;
  tls::TestPki pki_;
  std::vector<std::uint16_t> ports_;
  std::vector<std::string> urls_;
  std::vector<std::unique_ptr<DerpdProcess>> nodes_;
  AsyncRunner runner_;  // after the nodes, before the clients: see shutdown()
  AsyncRunner crowd_runner_;
  std::vector<AsyncRunner*> runners_;  // each client's
  std::vector<std::unique_ptr<RegionClient>> clients_;
  std::vector<int> homes_;
  std::vector<std::unique_ptr<Pair>> pairs_;
  std::vector<std::future<void>> tasks_;
  bool stop_flows_ = false;  // runner's thread
};

void RegionDrain::run(const Scenario& sc) {
  ASSERT_NO_FATAL_FAILURE(start_region(sc));
  for (int i = 0; i < 20; ++i) {
    auto p = std::make_unique<Pair>();
    p->split = i % 2 == 1;
    const int b_home = p->split ? 1 + (i / 2) % (sc.nodes - 1) : 0;
    p->a = &add_client(0, &p->b_to_a);
    p->b = &add_client(b_home, &p->a_to_b);
    p->a_to_b.name = "pair" + std::to_string(i) + (p->split ? " (split) " : " ") + "A->B";
    p->b_to_a.name = "pair" + std::to_string(i) + (p->split ? " (split) " : " ") + "B->A";
    pairs_.push_back(std::move(p));
  }
  for (int i = 0; i < sc.crowd; ++i) add_client(0, nullptr, &crowd_runner_);
  // Everyone connects to its home node first.
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    tasks_.push_back(runners_[i]->spawn(connect_once(*clients_[i])));
  }
  ASSERT_TRUE(eventually(
      [&] {
        for (std::size_t i = 0; i < clients_.size(); ++i) {
          if (clients_[i]->node != 0) return false;  // urls start at the home node
        }
        return true;
      },
      seconds(30)))
      << "not every client reached its home node: " << clients_.front()->last_error();

  for (auto& p : pairs_) {
    tasks_.push_back(runner_.spawn(send_every_tick(*p->a, *p->b, p->a_to_b)));
    tasks_.push_back(runner_.spawn(send_every_tick(*p->b, *p->a, p->b_to_a)));
  }
  // Count from the moment every flow delivers (the mesh has announced every split client).
  ASSERT_TRUE(eventually([&] {
    return on_runner([&] {
      for (auto& p : pairs_) {
        if (p->a_to_b.got.empty() || p->b_to_a.got.empty()) return false;
      }
      return true;
    });
  })) << "the pairs do not reach each other before the drain";
  const auto counting_from = Clock::now();
  on_runner([&] {
    for (auto& p : pairs_) {
      p->a_to_b.start_counting(Clock::now());
      p->b_to_a.start_counting(Clock::now());
    }
    return 0;
  });
  std::this_thread::sleep_until(counting_from + sc.before);

  const auto drain_started = Clock::now();
  if (sc.sigterm) {
    const int status = nodes_[0]->stop(SIGTERM);  // returns once derpd has exited
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  } else {
    DerpctlProcess drain({"--admin", admin(0), "-o", "json", "drain", "--deadline", "30s"});
    auto result = drain.wait(seconds(40));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    auto last = json::parse(result.out, nullptr, false);
    EXPECT_EQ(last["status"]["state"], "DRAIN_STATE_DRAINED") << result.out;
  }
  const auto drained_at = Clock::now();

  // Every client of node 0 is on a sibling, and node 0 refuses at TCP: a newcomer that lists it
  // first lands on node 1.
  const int on_node0 = 30 + sc.crowd;
  auto moved = [&] {
    int n = 0;
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      n += homes_[i] == 0 && clients_[i]->node > 0 ? 1 : 0;
    }
    return n;
  };
  EXPECT_TRUE(eventually([&] { return moved() == on_node0; }, seconds(10)))
      << moved() << " of " << on_node0 << " clients of node 0 are on a sibling";
  const auto all_moved_at = Clock::now();
  if (!sc.sigterm) {
    auto left_on_node0 = client_keys(0);
    ASSERT_TRUE(left_on_node0.has_value()) << "derpctl clients failed on the drained node";
    EXPECT_TRUE(left_on_node0->empty()) << "node 0 still lists clients after the drain";
  }
  EXPECT_TRUE(connect_refused(ports_[0])) << "a drained node refuses at TCP";

  std::this_thread::sleep_until(counting_from + sc.total);
  struct Result {
    std::vector<Flow> flows;
    std::vector<std::string> explained;  // each flow's sender and receiver moves
    int resets = 0, refused = 0, failed = 0, restarting = 0;
  };
  auto r = on_runner([&] {
    stop_flows_ = true;
    Result out;
    for (auto& p : pairs_) {
      for (Flow* f : {&p->a_to_b, &p->b_to_a}) {
        f->last_counted = f->next_seq;
        f->stopped_at = Clock::now();
        out.flows.push_back(*f);
        const bool from_a = f == &p->a_to_b;
        out.explained.push_back(
            "times from the drain's start; the gap ended at +" +
            std::to_string(ms_between(drain_started, f->gap_end)) +
            " ms\n  sender: " + moves_of(from_a ? *p->a : *p->b, drain_started) +
            "\n  receiver: " + moves_of(from_a ? *p->b : *p->a, drain_started));
      }
    }
    return out;
  });
  // Each client's history is read on its own runner's thread.
  for (AsyncRunner* runner : {&runner_, &crowd_runner_}) {
    runner->run([&, runner]() -> asio::awaitable<void> {
      for (std::size_t i = 0; i < clients_.size(); ++i) {
        if (runners_[i] != runner) continue;
        for (const auto& e : clients_[i]->endings()) r.resets += e == "reset" ? 1 : 0;
        r.refused += clients_[i]->refused_connects;
        r.failed += clients_[i]->failed_attempts;
        r.restarting += clients_[i]->restarting_frames;
      }
      co_return;
    }());
  }

  double worst_loss = 0;
  long long worst_gap = 0;
  std::string worst_loss_flow, worst_gap_flow, worst_loss_moves, worst_gap_moves;
  std::uint32_t lost_total = 0, sent_total = 0;
  for (std::size_t i = 0; i < r.flows.size(); ++i) {
    const Flow& f = r.flows[i];
    lost_total += f.lost();
    sent_total += f.sent();
    if (f.loss_percent() >= worst_loss) {
      worst_loss = f.loss_percent();
      worst_loss_flow = f.name;
      worst_loss_moves = r.explained[i];
    }
    if (f.longest_gap_ms() >= worst_gap) {
      worst_gap = f.longest_gap_ms();
      worst_gap_flow = f.name;
      worst_gap_moves = r.explained[i];
    }
  }
  std::printf(
      "\nregion drain, %d nodes, %s, %d clients on node 0 (20 pairs, 10 split)%s: %s "
      "took %lld ms; all on siblings after %lld ms; %d TCP connects refused, %d attempts failed "
      "after connecting, %d Restarting frames seen, %d resets\n"
      "  pairs: %u of %u packets lost over %lld s; worst loss %.2f %% (%s), longest gap %lld ms "
      "(%s)\n",
      sc.nodes, sc.tls ? "TLS" : "plain HTTP", on_node0,
      sc.honours_restarting ? ", clients honour Restarting" : "",
      sc.exit_at_once ? "SIGTERM, exit at once (--shutdown-grace 0)"
      : sc.sigterm    ? "SIGTERM to exit"
                      : "derpctl drain",
      ms_between(drain_started, drained_at), ms_between(drain_started, all_moved_at), r.refused,
      r.failed, r.restarting, r.resets, lost_total, sent_total,
      static_cast<long long>(sc.total.count()), worst_loss, worst_loss_flow.c_str(), worst_gap,
      worst_gap_flow.c_str());
  std::printf("  worst loss, %s: %s\n", worst_loss_flow.c_str(), worst_loss_moves.c_str());
  std::fflush(stdout);
  char loss[32];
  std::snprintf(loss, sizeof loss, "%.2f", worst_loss);
  RecordProperty("pair_loss_percent_max", loss);
  RecordProperty("pair_longest_gap_ms_max", static_cast<int>(worst_gap));
  RecordProperty("drain_ms", static_cast<int>(ms_between(drain_started, drained_at)));
  RecordProperty("all_on_siblings_ms", static_cast<int>(ms_between(drain_started, all_moved_at)));

  if (sc.exit_at_once) return;
  EXPECT_LE(worst_loss, kMaxLossPercent) << worst_loss_flow << ": " << worst_loss_moves;
  EXPECT_LE(worst_gap, kMaxGapMs) << worst_gap_flow << ": " << worst_gap_moves;
  EXPECT_EQ(r.resets, 0) << "a drain ends connections cleanly: nothing is reset mid-write";
  EXPECT_GE(r.refused, on_node0) << "clients move because node 0 refuses the TCP connect";
  EXPECT_LT(drained_at - drain_started, seconds(10)) << "the node empties in seconds";
  for (const auto& f : r.flows) {
    EXPECT_GT(f.sent(), 0u) << f.name;
  }

  if (sc.sigterm) return;
  // Undrain: node 0 accepts again; a client that lists it first lands there.
  auto undrain = ctl(0, {"undrain"});
  ASSERT_EQ(undrain.exit_code, 0) << undrain.err;
  auto& back = add_client(0, nullptr);
  tasks_.push_back(runner_.spawn(connect_once(back)));
  EXPECT_TRUE(eventually([&] { return back.node == 0; })) << back.last_error();
  EXPECT_EQ(back.refused_connects, 0);
}

TEST_F(RegionDrain, TwoNodesPlain) {
  run({.nodes = 2, .tls = false});
}
TEST_F(RegionDrain, TwoNodesTls) {
  run({.nodes = 2, .tls = true});
}
TEST_F(RegionDrain, ThreeNodesPlainWith300Clients) {
  run({.nodes = 3, .tls = false, .crowd = 270});
}
TEST_F(RegionDrain, ThreeNodesTlsWith300Clients) {
  run({.nodes = 3, .tls = true, .crowd = 270});
}
// SIGTERM runs the same drain, then exits 0.
TEST_F(RegionDrain, SigtermOnThreeNodesPlain) {
  run({.nodes = 3, .tls = false, .sigterm = true, .before = seconds(3), .total = seconds(10)});
}
// The 300 clients on the node that gets SIGTERM.
TEST_F(RegionDrain, SigtermOnThreeNodesPlainWith300Clients) {
  run({.nodes = 3,
       .tls = false,
       .crowd = 270,
       .sigterm = true,
       .before = seconds(3),
       .total = seconds(10)});
}
// For comparison only, run by hand (not a ctest entry): exiting at once on SIGTERM, as derper does.
TEST_F(RegionDrain, ForComparisonSigtermExitingAtOnceWith300Clients) {
  run({.nodes = 3,
       .tls = false,
       .crowd = 270,
       .sigterm = true,
       .exit_at_once = true,
       .before = seconds(3),
       .total = seconds(10)});
}
// A future client that acts on Restarting moves as soon as it reads it; nothing waits for it.
TEST_F(RegionDrain, ClientsThatHonourRestartingMoveAsQuickly) {
  run({.nodes = 2,
       .tls = false,
       .honours_restarting = true,
       .before = seconds(3),
       .total = seconds(10)});
}

}  // namespace
}  // namespace derp::testing
