// A region of three real derpd nodes, each in its own network namespace, is partitioned and healed
// (docs/protocol.md, "Region mesh"): the siblings drop the cut-off node's routes, and the links
// come back by themselves once the network does, with traffic flowing across them again.
//
// Topology (all of it inside namespaces this test creates and deletes; nothing leaves them):
//
//   derpmesh-<pid>-n0  eth0 10.200.0.1 ──vb0─┐
//   derpmesh-<pid>-n1  eth0 10.200.0.2 ──vb1─┼── br0 in derpmesh-<pid>-br
//   derpmesh-<pid>-n2  eth0 10.200.0.3 ──vb2─┘
//
// The partition is `ip link set vb2 down` in the bridge's namespace: node 2 keeps its address and
// its sockets, but nothing it sends reaches its siblings and nothing of theirs reaches it, as when
// a cable is pulled. Each DERP client lives in the namespace of its home node.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "tests/support/derp_test_client.h"
#include "tests/support/derpd_process.h"
#include "tests/support/netns.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

namespace asio = boost::asio;
using client::DerpClient;
using namespace std::chrono_literals;

constexpr int kNodes = 3;
constexpr int kCut = 2;  // the node that gets partitioned away
constexpr std::uint16_t kPort = 3340;
constexpr long long kServerKeys = kNodes;

// Time limits. The nodes run with --tcp-keepalive-time 1s --tcp-user-timeout 2s. An idle socket
// sends a keepalive probe every 15 s, and fails at the first timer that finds the user timeout
// exceeded with a probe unanswered: 15 s after the cut when the probe lost in it was the
// unanswered one, 30 s when the last probe before the cut was answered. Each mesh connection has
// its own phase, so one node may notice 15 s after another. The siblings must notice on both ends
// of every mesh connection: the accepted one (§4.8 socket options) and the dialled one (§5.2 step
// 4: "when the connection fails … remove every forwarder learned from P").
constexpr auto kDetectLimit = 45s;
// After the heal a link may be in the middle of a 10 s connect attempt or a 5 s pause (§5.2).
constexpr auto kHealLimit = 30s;

std::string address(int i) {
  return "10.200.0." + std::to_string(i + 1);
}

// Messages of one client, read by a coroutine on the client's runner and waited for from the
// test's thread with a time limit (so a missing message fails the test instead of hanging it).
class Inbox {
 public:
  void push(client::ReceivedMessage m) {
    {
      std::lock_guard lock(mu_);
      messages_.push_back(std::move(m));
    }
    cv_.notify_all();
  }
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  bool closed() {
    std::lock_guard lock(mu_);
    return closed_;
  }
  // Removes and returns the first message `want` accepts (others stay, for later takes); nullopt
  // after `limit` or once the connection closed.
  template <class Want>
  std::optional<client::ReceivedMessage> take(Want want, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    auto find = [&]() -> std::optional<client::ReceivedMessage> {
      for (auto it = messages_.begin(); it != messages_.end(); ++it) {
        if (!want(*it)) continue;
        auto m = std::move(*it);
        messages_.erase(it);
        return m;
      }
      return std::nullopt;
    };
    std::unique_lock lock(mu_);
    for (;;) {
      if (auto m = find()) return m;
      if (closed_) return std::nullopt;
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) return find();
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<client::ReceivedMessage> messages_;
  bool closed_ = false;
};

asio::awaitable<void> pump(DerpClient& c, Inbox& inbox) {
  for (;;) {
    client::ReceivedMessage m;
    bool ok = true;
    try {
      m = co_await c.receive();
    } catch (const std::exception&) {
      ok = false;
    }
    if (!ok) break;
    inbox.push(std::move(m));
  }
  inbox.close();
}

asio::awaitable<std::unique_ptr<DerpClient>> connect_to(std::string url) {
  client::ClientOptions o;
  o.url = std::move(url);
  o.key = protocol::NodePrivate::generate();
  auto ex = co_await asio::this_coro::executor;
  auto c = co_await DerpClient::connect(ex, o);
  co_return c;
}

asio::awaitable<void> send_to(DerpClient& c, protocol::NodePublic dst,
                              std::vector<std::uint8_t> packet) {
  protocol::Bytes bytes(packet);
  co_await c.send_packet(dst, bytes);
}

// A DERP client homed on one node, living in that node's namespace.
class NsClient {
 public:
  NsClient(const NetNamespace& ns, const std::string& url) : runner_(ns) {
    client_ = runner_.run(connect_to(url), 15s);
    key_ = client_->public_key();
    pumping_ = runner_.spawn(pump(*client_, inbox_));
  }
  ~NsClient() {
    asio::post(runner_.io(), [c = client_.get()] { c->close(); });
    pumping_.wait_for(10s);
    std::promise<void> gone;
    asio::post(runner_.io(), [this, &gone] {
      client_.reset();
      gone.set_value();
    });
    gone.get_future().wait_for(10s);
  }
  const protocol::NodePublic& key() const { return key_; }
  void send(const protocol::NodePublic& dst, std::vector<std::uint8_t> packet) {
    runner_.run(send_to(*client_, dst, std::move(packet)), 10s);
  }
  // Whether `data` from `src` arrives within `limit` (other messages are left for later).
  bool got_packet(const protocol::NodePublic& src, const std::vector<std::uint8_t>& data,
                  std::chrono::milliseconds limit) {
    return inbox_
        .take(
            [&](const client::ReceivedMessage& m) {
              auto* p = std::get_if<client::RecvPacket>(&m);
              return p && p->src == src && p->data == data;
            },
            limit)
        .has_value();
  }
  std::optional<client::PeerGone> peer_gone(const protocol::NodePublic& key,
                                            std::chrono::milliseconds limit) {
    auto m = inbox_.take(
        [&](const client::ReceivedMessage& m) {
          auto* g = std::get_if<client::PeerGone>(&m);
          return g && g->key == key;
        },
        limit);
    if (!m) return std::nullopt;
    return std::get<client::PeerGone>(*m);
  }
  bool connected() { return !inbox_.closed(); }

 private:
  NetnsRunner runner_;
  std::unique_ptr<DerpClient> client_;
  protocol::NodePublic key_;
  Inbox inbox_;
  std::future<void> pumping_;
};

class MeshPartition : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = netns_unavailable_reason(); !why.empty()) {
      GTEST_SKIP() << "network-namespace test skipped: " << why;
    }
    remove_stale_namespaces("derpmesh");
    const std::string prefix = "derpmesh-" + std::to_string(::getpid()) + "-";
    try {
      bridge_ = std::make_unique<NetNamespace>(prefix + "br");
      for (int i = 0; i < kNodes; ++i) {
        ns_[i] = std::make_unique<NetNamespace>(prefix + "n" + std::to_string(i));
      }
    } catch (const std::exception& e) {
      GTEST_SKIP() << "network-namespace test skipped: " << e.what();
    }
    bridge_->ip({"link", "add", "br0", "type", "bridge"});
    bridge_->ip({"link", "set", "br0", "up"});
    for (int i = 0; i < kNodes; ++i) {
      const std::string port = "vb" + std::to_string(i);
      // Both ends are created inside namespaces: the host never sees these interfaces.
      ns_[i]->ip(
          {"link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", bridge_->name()});
      bridge_->ip({"link", "set", port, "master", "br0"});
      bridge_->ip({"link", "set", port, "up"});
      ns_[i]->ip({"addr", "add", address(i) + "/24", "dev", "eth0"});
      ns_[i]->ip({"link", "set", "eth0", "up"});
      ns_[i]->ip({"link", "set", "lo", "up"});
    }

    std::ofstream(dir_.path() + "/mesh.key")
        << "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    for (int i = 0; i < kNodes; ++i) {
      std::string siblings;
      for (int j = 0; j < kNodes; ++j) {
        if (j == i) continue;
        if (!siblings.empty()) siblings += ",";
        siblings += "http://" + address(j) + ":" + std::to_string(kPort);
      }
      nodes_[i] = start_derpd_in(
          *ns_[i], {"-a", ":" + std::to_string(kPort), "--stun=false", "-c",
                    dir_.path() + "/node" + std::to_string(i) + ".key", "--mesh-psk-file",
                    dir_.path() + "/mesh.key", "--mesh-with", siblings, "--workers", "1",
                    "--tcp-keepalive-time", "1s", "--tcp-user-timeout", "2s",
                    // Not the host's default /run/derpd/admin.sock: the nodes share the test's
                    // file system.
                    "--admin-socket", "off"});
    }
  }

  void TearDown() override {
    for (auto& c : clients_) c.reset();
    if (HasFailure()) {
      for (int i = 0; i < kNodes; ++i) {
        if (nodes_[i]) std::cout << "---- node " << i << " log:\n" << nodes_[i]->log();
      }
    }
  }

  // /debug/ answers loopback only (§1.7), hence the wildcard listener: each node is asked from
  // inside its own namespace, over that namespace's loopback.
  long long varz(int i, const std::string& name) {
    return varz_in(*ns_[i], "127.0.0.1", kPort, name);
  }
  std::string url(int i) const {
    return "http://" + address(i) + ":" + std::to_string(kPort) + "/derp";
  }
  std::string state() {
    std::string s;
    for (int i = 0; i < kNodes; ++i) {
      s += "node " + std::to_string(i) + ": watchers " + std::to_string(varz(i, "derp_watchers")) +
           ", keys " + std::to_string(varz(i, "derp_clients_total")) + ", remote " +
           std::to_string(varz(i, "derp_clients_remote")) + "\n";
    }
    return s;
  }
  bool all(std::function<bool(int)> pred, std::chrono::milliseconds limit) {
    return eventually(
        [&] {
          for (int i = 0; i < kNodes; ++i) {
            if (!pred(i)) return false;
          }
          return true;
        },
        limit);
  }
  // Sends from `from` to `to` every 250 ms until a packet arrives, for at most `limit`.
  bool delivered(NsClient& from, NsClient& to, std::uint32_t seq, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    do {
      auto p = numbered_packet(seq, 200);
      from.send(to.key(), p);
      if (to.got_packet(from.key(), p, 250ms)) return true;
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }

  std::unique_ptr<NetNamespace> bridge_;
  std::unique_ptr<NetNamespace> ns_[kNodes];
  TempDir dir_;
  std::unique_ptr<DerpdProcess> nodes_[kNodes];
  std::vector<std::unique_ptr<NsClient>> clients_;
};

TEST_F(MeshPartition, SiblingsDropAPartitionedNodesRoutesAndTheLinksHealByThemselves) {
  ASSERT_TRUE(all([&](int i) { return varz(i, "derp_watchers") == kNodes - 1; }, 20s)) << state();

  // a on node 0, b on node 1, p on the node that will be cut off.
  for (int i = 0; i < kNodes; ++i) clients_.push_back(std::make_unique<NsClient>(*ns_[i], url(i)));
  NsClient& a = *clients_[0];
  NsClient& b = *clients_[1];
  NsClient& p = *clients_[kCut];
  ASSERT_TRUE(all([&](int i) { return varz(i, "derp_clients_total") == kServerKeys + 3; }, 15s))
      << state();
  // a and b hear from p (so they are the senders that must learn it is gone), and p from them.
  ASSERT_TRUE(delivered(p, a, 1, 5s)) << state();
  ASSERT_TRUE(delivered(p, b, 2, 5s)) << state();
  ASSERT_TRUE(delivered(a, p, 3, 5s)) << state();
  ASSERT_TRUE(delivered(b, p, 4, 5s)) << state();
  // Let the receivers' delayed ACKs of those forwarded packets go out: the partition must find
  // the mesh connections idle, the hard case where no unacknowledged data is pending whose
  // retransmissions could end a connection (or, after the heal, draw a reset from the far side).
  std::this_thread::sleep_for(1s);
  long long remote_before[kNodes];
  for (int i = 0; i < kNodes; ++i) remote_before[i] = varz(i, "derp_clients_remote");

  // ---- Partition: node 2's port on the bridge goes down.
  bridge_->ip({"link", "set", "vb" + std::to_string(kCut), "down"});
  auto cut_at = std::chrono::steady_clock::now();

  // The siblings tell their clients that p left the region (it is unreachable from here)...
  // The links' own sockets carry the node's TCP keepalive and user timeout, so a silent sibling
  // breaks its link and its routes go (protocol §5.2 step 4).
  auto gone_a = a.peer_gone(p.key(), kDetectLimit);
  auto detected_in = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - cut_at);
  if (gone_a) {
    std::cout << "partition detected after " << detected_in.count() << " ms\n";
    RecordProperty("partition_detected_ms", static_cast<int>(detected_in.count()));
  }
  EXPECT_TRUE(gone_a) << "node 0 never told a that p (on the partitioned node) is gone\n"
                      << state();
  // The other nodes' links have until the same limit (each probes on its own phase).
  auto detect_left = [&]() -> std::chrono::milliseconds {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        cut_at + kDetectLimit - std::chrono::steady_clock::now());
    return std::max<std::chrono::milliseconds>(left, 1s);
  };
  auto gone_b = b.peer_gone(p.key(), detect_left());
  EXPECT_TRUE(gone_b) << "node 1 never told b that p (on the partitioned node) is gone\n"
                      << state();
  // The cut-off node, too, tells p that a and b are gone.
  EXPECT_TRUE(p.peer_gone(a.key(), detect_left())) << "node 2 kept a's route\n" << state();
  EXPECT_TRUE(p.peer_gone(b.key(), detect_left())) << "node 2 kept b's route\n" << state();
  // ...and each side forgets the other's keys: nodes 0 and 1 keep their own clients and server
  // keys (a, b, the keys of nodes 0 and 1), node 2 only p.
  EXPECT_TRUE(eventually(
      [&] {
        return varz(0, "derp_clients_total") == 4 && varz(1, "derp_clients_total") == 4 &&
               varz(kCut, "derp_clients_total") == 1;
      },
      gone_a ? std::chrono::milliseconds(kDetectLimit) : std::chrono::milliseconds(1s)))
      << state();
  EXPECT_LT(varz(0, "derp_clients_remote"), remote_before[0]) << state();
  EXPECT_LT(varz(1, "derp_clients_remote"), remote_before[1]) << state();
  // The rest of the region is unaffected.
  EXPECT_TRUE(delivered(a, b, 5, 5s)) << state();
  EXPECT_TRUE(a.connected() && b.connected() && p.connected());

  // ---- Heal: the port comes back; nobody touches the nodes.
  bridge_->ip({"link", "set", "vb" + std::to_string(kCut), "up"});
  auto healed_at = std::chrono::steady_clock::now();
  // The siblings' links to node 2 broke during the partition and keep retrying: they come back
  // on their own once it heals.
  bool relinked = all([&](int i) { return varz(i, "derp_watchers") == kNodes - 1; }, kHealLimit) &&
                  all([&](int i) { return varz(i, "derp_clients_total") == kServerKeys + 3; }, 10s);
  EXPECT_TRUE(relinked) << "the links did not come back by themselves\n" << state();
  if (relinked) {
    auto relinked_in = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - healed_at);
    std::cout << "links recovered " << relinked_in.count() << " ms after the heal\n";
    RecordProperty("links_recovered_ms", static_cast<int>(relinked_in.count()));
  }
  // Traffic crosses the healed links in both directions.
  EXPECT_TRUE(delivered(a, p, 6, 5s)) << state();
  EXPECT_TRUE(delivered(p, a, 7, 5s)) << state();
  EXPECT_TRUE(delivered(b, p, 8, 5s)) << state();
  EXPECT_TRUE(delivered(p, b, 9, 5s)) << state();
}

}  // namespace
}  // namespace derp::testing
