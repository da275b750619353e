// derpctl against a live derpd: every command, table and JSON output, bad arguments (exit 2) and
// unreachable admin sockets (exit 1, with what to do).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/integration/admin/admin_node.h"
#include "tests/support/async_runner.h"
#include "tests/support/derp_test_client.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using client::DerpClient;
using nlohmann::json;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class Derpctl : public ::testing::Test {
 protected:
  std::unique_ptr<DerpClient> connect() {
    return runner_.run(connect_client(node_.derpd->derp_url()));
  }
  AsyncRunner runner_;
  AdminNode node_;
};

TEST_F(Derpctl, SocketIsGroupOnly) {
  struct stat st {};
  ASSERT_EQ(::stat(node_.socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(Derpctl, StatusAsTableAndJson) {
  auto t = node_.ctl({"status"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_TRUE(contains(t.out, "node key")) << t.out;
  EXPECT_TRUE(contains(t.out, "serving")) << t.out;
  EXPECT_TRUE(contains(t.out, node_.derpd->derp_url())) << t.out;
  EXPECT_TRUE(t.err.empty()) << t.err;

  auto j = node_.ctl({"-o", "json", "status"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto doc = json::parse(j.out);
  EXPECT_TRUE(doc["node_key"].get<std::string>().starts_with("nodekey:"));
  EXPECT_EQ(doc["drain"]["state"], "DRAIN_STATE_SERVING");
  EXPECT_EQ(doc["serving"], true);
  bool admin_listed = false;
  for (const auto& l : doc["listeners"]) {
    admin_listed = admin_listed || l["address"] == node_.admin();
  }
  EXPECT_TRUE(admin_listed) << j.out;

  auto l = node_.ctl({"-o", "jsonl", "status"});
  ASSERT_EQ(l.exit_code, 0);
  EXPECT_EQ(std::count(l.out.begin(), l.out.end(), '\n'), 1);
  EXPECT_NO_THROW({
    auto parsed = json::parse(l.out);
    (void)parsed;
  });
}

// Worker packing is visible: with no load one of two workers carries the clients; with packing
// off all of them do, and the table does not mention it.
TEST(DerpctlWorkers, StatusSaysHowManyWorkersCarryClients) {
  AdminNode packed({"--workers", "2"});
  auto j = packed.ctl({"-o", "json", "status"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto doc = json::parse(j.out);
  EXPECT_EQ(doc["workers"], 2);
  EXPECT_EQ(doc["workers_active"], 1);
  auto t = packed.ctl({"status"});
  EXPECT_TRUE(contains(t.out, "2 (1 carrying clients now")) << t.out;

  AdminNode unpacked({"--workers", "2", "--worker-packing=false"});
  doc = json::parse(unpacked.ctl({"-o", "json", "status"}).out);
  EXPECT_EQ(doc["workers_active"], 2);
  EXPECT_FALSE(contains(unpacked.ctl({"status"}).out, "carrying clients")) << "nothing to say";
}

TEST_F(Derpctl, ClientsShowAndClose) {
  auto a = connect();
  auto b = connect();
  const std::string ka = a->public_key().to_text(), kb = b->public_key().to_text();

  auto j = node_.ctl({"-o", "json", "clients"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto arr = json::parse(j.out);
  ASSERT_TRUE(arr.is_array());
  ASSERT_EQ(arr.size(), 2u);
  std::set<std::string> keys{arr[0]["key"], arr[1]["key"]};
  EXPECT_EQ(keys, (std::set<std::string>{ka, kb}));
  EXPECT_EQ(arr[0]["transport"], "TRANSPORT_HTTP");

  auto jl = node_.ctl({"-o", "jsonl", "clients", "--key", ka.substr(0, 14)});
  ASSERT_EQ(jl.exit_code, 0) << jl.err;
  EXPECT_EQ(std::count(jl.out.begin(), jl.out.end(), '\n'), 1) << jl.out;
  EXPECT_EQ(json::parse(jl.out)["key"], ka);

  auto t = node_.ctl({"clients", "--sort", "key"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  // The table names each client by a short unique prefix, so a row fits a terminal; JSON keeps
  // the full key.
  EXPECT_TRUE(contains(t.out, ka.substr(0, 16) + "…") && contains(t.out, kb.substr(0, 16) + "…"))
      << t.out;
  EXPECT_FALSE(contains(t.out, ka)) << t.out;
  for (std::size_t at = 0, end; at < t.out.size(); at = end + 1) {
    end = t.out.find('\n', at);
    if (end == std::string::npos) end = t.out.size();
    EXPECT_LE(end - at, 140u) << "a clients row wraps in a terminal:\n" << t.out;
  }
  EXPECT_TRUE(contains(t.out, "2 of 2 clients")) << t.out;

  auto show = node_.ctl({"-o", "json", "client", "show", ka});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(json::parse(show.out)["connections"][0]["key"], ka);
  auto show_table = node_.ctl({"client", "show", ka});
  ASSERT_EQ(show_table.exit_code, 0);
  EXPECT_TRUE(contains(show_table.out, "transport")) << show_table.out;

  auto close = node_.ctl({"client", "close", ka, "--reason", "test says so"});
  ASSERT_EQ(close.exit_code, 0) << close.err;
  EXPECT_TRUE(contains(close.out, "closed 1 connection")) << close.out;
  // The closed client sees its connection end.
  EXPECT_THROW(runner_.run([&]() -> asio::awaitable<void> {
    for (;;) co_await a->receive();
  }()),
               std::exception);
  // Gone: NOT_FOUND → exit 1 with a message.
  auto gone = node_.ctl({"client", "show", ka});
  for (int i = 0; i < 50 && gone.exit_code == 0; ++i) {
    ::usleep(20000);
    gone = node_.ctl({"client", "show", ka});
  }
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_TRUE(contains(gone.err, "no client")) << gone.err;
  EXPECT_TRUE(gone.out.empty());
  EXPECT_TRUE(contains(node_.derpd->log(), "test says so")) << "the reason is logged";
}

TEST_F(Derpctl, WatchStreamsConnectsAndDisconnects) {
  DerpctlProcess watch({"--admin", node_.admin(), "-o", "jsonl", "clients", "--watch"});
  // derpctl says so on stderr once derpd has sent headers, which it does after subscribing.
  auto ready = watch.read_err_line(std::chrono::seconds(20));
  ASSERT_TRUE(ready) << "derpctl never said the watch is in place";
  EXPECT_TRUE(contains(*ready, "watching client events")) << *ready;
  auto c = connect();
  const std::string key = c->public_key().to_text();
  auto line = watch.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(line) << "no event";
  auto e = json::parse(*line);
  EXPECT_EQ(e["kind"], "KIND_CONNECTED");
  EXPECT_EQ(e["key"], key);
  c->close();
  line = watch.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(line);
  EXPECT_EQ(json::parse(*line)["kind"], "KIND_DISCONNECTED");
}

TEST_F(Derpctl, MeshUndrainAndRegion) {
  auto m = node_.ctl({"mesh"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_TRUE(contains(m.out, "no mesh links"));
  auto mj = node_.ctl({"-o", "json", "mesh"});
  ASSERT_EQ(mj.exit_code, 0);
  EXPECT_EQ(json::parse(mj.out), json::array());

  auto u = node_.ctl({"undrain"});
  EXPECT_EQ(u.exit_code, 1);
  EXPECT_TRUE(contains(u.err, "serving")) << u.err;

  auto r = run_derpctl({"region", "status", "--node", node_.admin()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "serving")) << r.out;
  auto missing = "unix:" + node_.dir.path() + "/nobody.sock";
  auto r2 =
      run_derpctl({"-o", "json", "region", "status", "--node", node_.admin(), "--node", missing});
  EXPECT_EQ(r2.exit_code, 3) << "an unreachable node fails the check";
  auto doc = json::parse(r2.out);
  EXPECT_EQ(doc["healthy"], false);
  EXPECT_EQ(doc["nodes"].size(), 2u);
  EXPECT_TRUE(contains(doc["nodes"][1]["error"].get<std::string>(), "no such file"));
}

TEST_F(Derpctl, BadArgumentsExitTwo) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {},
           {"-o", "xml", "status"},
           {"status", "--bogus"},
           {"client"},
           {"client", "show"},
           {"clients", "--sort", "size"},
           {"drain", "--deadline", "5 fortnights"},
           {"region", "status"},
       }) {
    args.insert(args.begin(), {"--admin", node_.admin()});
    auto r = run_derpctl(args);
    std::string joined;
    for (auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.err;
    EXPECT_FALSE(r.err.empty()) << joined;
  }
  auto bad_key = node_.ctl({"client", "show", "nodekey:12"});
  EXPECT_EQ(bad_key.exit_code, 2) << "INVALID_ARGUMENT is a usage error";
  EXPECT_TRUE(contains(bad_key.err, "64 hex")) << bad_key.err;
}

TEST_F(Derpctl, UnreachableSocketSaysWhatToDo) {
  auto r = run_derpctl({"--admin", "unix:/nonexistent/derpd/admin.sock", "status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "cannot reach admin socket /nonexistent/derpd/admin.sock")) << r.err;
  EXPECT_TRUE(contains(r.err, "is derpd running")) << r.err;
  EXPECT_TRUE(r.out.empty());

  if (::geteuid() == 0) {
    // The test folder is 0700 root: another user cannot reach the socket in it.
    auto denied = run_derpctl({"--admin", node_.admin(), "status"}, /*nobody*/ 65534);
    EXPECT_EQ(denied.exit_code, 1);
    EXPECT_TRUE(contains(denied.err,
                         "permission denied — run as root or add yourself to group "
                         "derpd"))
        << denied.err;
  }
}

}  // namespace
}  // namespace derp::testing
