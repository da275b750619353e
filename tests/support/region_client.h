// A DERP client that uses a region the way Tailscale's does (derphttp + magicsock, v1.36 and
// still at HEAD), so that tests catch what real clients would suffer:
//  - it walks the region's nodes in DERP-map order and takes the first whose TCP connect succeeds;
//    the TLS handshake and the HTTP upgrade then run on that node only, and any failure there
//    (a 503, a reset) fails the whole attempt: the next attempt starts at the first node again;
//  - a broken connection is redialled by the next send, and by the reader after a short back-off;
//  - it ignores the Restarting frame (unless `honours_restarting`, for a future client that
//    reconnects as soon as a node tells it to).
// Numbered packets it receives are recorded in a Flow, for loss and gap figures. Everything runs
// on one executor's thread (the test's AsyncRunner); only the atomics may be read elsewhere.
#pragma once

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "relay/client/derp_client.h"
#include "tests/support/derp_test_client.h"

namespace derp::testing {

// Numbered packets one way between two clients, one per tick.
struct Flow {
  using Clock = std::chrono::steady_clock;
  std::string name;
  std::uint32_t next_seq = 0;  // the sender's next sequence number (one per tick)
  std::vector<bool> got;
  std::uint32_t duplicates = 0;
  // Measurement window: sequence numbers from `first_counted` on, arrivals after `counting_from`.
  std::uint32_t first_counted = 0;
  std::uint32_t last_counted = 0;  // exclusive; set when the flow stops
  Clock::time_point counting_from{}, last_arrival{}, stopped_at{};
  Clock::duration longest_gap{};
  Clock::time_point gap_end{};

  void record(std::uint32_t seq, Clock::time_point now) {
    if (seq >= got.size()) got.resize(seq + 1, false);
    if (got[seq]) {
      ++duplicates;
      return;
    }
    got[seq] = true;
    if (counting_from == Clock::time_point{} || now < counting_from) return;
    if (last_arrival != Clock::time_point{} && now - last_arrival > longest_gap) {
      longest_gap = now - last_arrival;
      gap_end = now;
    }
    last_arrival = now;
  }
  // Starts the window: packets the sender sends from now on count.
  void start_counting(Clock::time_point now) {
    counting_from = now;
    first_counted = next_seq;
    last_arrival = now;
  }
  std::uint32_t sent() const { return last_counted - first_counted; }
  std::uint32_t lost() const {
    std::uint32_t n = 0;
    for (std::uint32_t s = first_counted; s < last_counted; ++s)
      n += (s < got.size() && got[s]) ? 0 : 1;
    return n;
  }
  double loss_percent() const { return sent() ? 100.0 * lost() / sent() : 0.0; }
  long long longest_gap_ms() const {
    auto gap = longest_gap;
    if (stopped_at > last_arrival) gap = std::max(gap, stopped_at - last_arrival);
    return std::chrono::duration_cast<std::chrono::milliseconds>(gap).count();
  }
};

struct RegionClientOptions {
  std::vector<std::string> urls;  // the region in DERP-map order, as this client sees it
  std::string ca_file;            // trusted CA for TLS regions
  bool honours_restarting = false;
  // magicsock's reader backs off before it redials a broken connection; the sender does not.
  std::chrono::milliseconds reader_backoff{100};
  // derphttp gives each node's TCP dial 1.5 s and the whole connect (TLS, upgrade, handshake)
  // longer. On loopback a refused connect fails at once, so one generous budget for the whole
  // connect serves: it must not cut handshakes that a loaded (or sanitizer-built) node is slow to
  // answer.
  std::chrono::milliseconds connect_timeout{10000};
};

class RegionClient {
 public:
  using Clock = std::chrono::steady_clock;

  RegionClient(boost::asio::any_io_executor ex, RegionClientOptions options, Flow* inbound)
      : ex_(ex), options_(std::move(options)), inbound_(inbound), connected_(ex), backoff_(ex) {}

  protocol::NodePublic public_key() const { return key_.public_key(); }

  // Connects if it has no connection (derphttp's connect()). False when this attempt failed; a
  // caller that arrives while another attempt runs waits for that one.
  boost::asio::awaitable<bool> ensure_connected() {
    if (conn_) co_return true;
    if (connecting_) {
      boost::system::error_code ec;
      if (waiters_++ == 0) connected_.expires_at(Clock::time_point::max());
      co_await connected_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      --waiters_;
      co_return conn_ != nullptr;
    }
    connecting_ = true;
    std::shared_ptr<client::DerpClient> c;
    int at = -1;
    for (std::size_t i = 0; i < options_.urls.size() && !c && !stopped_; ++i) {
      client::ClientOptions o;
      o.url = options_.urls[i];
      o.key = key_;
      o.ca_file = options_.ca_file;
      o.timeout = options_.connect_timeout;
      try {
        auto made = co_await client::DerpClient::connect(ex_, o);
        c = std::move(made);
        at = static_cast<int>(i);
      } catch (const client::ConnectError& e) {
        last_error_ = e.what();
        if (!e.dialled()) {
          ++refused_connects;
          continue;  // TCP connect failed: derphttp tries the next node
        }
        ++failed_attempts;
        break;  // failed after the connect: this attempt is over
      }
    }
    connecting_ = false;
    if (c && !stopped_) {
      conn_ = c;
      node = at;
      ++connects;
      history_.push_back({Clock::now(), "on node " + std::to_string(at)});
      boost::asio::co_spawn(ex_, read_loop(c), boost::asio::detached);
    } else if (c) {
      c->close();
    }
    connected_.cancel();
    co_return conn_ != nullptr;
  }

  // magicsock's Send: connect if needed, write; a failed write drops the connection (the next
  // send redials). False when the packet did not leave.
  boost::asio::awaitable<bool> send(const protocol::NodePublic& dst, protocol::Bytes packet) {
    if (!co_await ensure_connected()) co_return false;
    auto c = conn_;
    try {
      co_await c->send_packet(dst, packet);
      co_return true;
    } catch (const std::exception& e) {
      last_error_ = e.what();
      drop(c);
      co_return false;
    }
  }

  void stop() {
    stopped_ = true;
    backoff_.cancel();
    if (conn_) conn_->close();
  }

  bool stopped() const { return stopped_; }
  const std::string& last_error() const { return last_error_; }
  // How each connection ended, as the client saw it ("end of stream", "Connection reset by
  // peer", …), oldest first.
  const std::vector<std::string>& endings() const { return endings_; }
  // When it connected (to which node) and when a connection broke (and why), oldest first: what
  // a test prints to explain a gap.
  struct Event {
    Clock::time_point at;
    std::string what;
  };
  const std::vector<Event>& history() const { return history_; }

  std::atomic<int> node{-1};  // the node it is connected to, -1 while it has none
  std::atomic<int> connects{0};
  std::atomic<int> refused_connects{0};  // TCP connects that failed (moved on to the next node)
  std::atomic<int> failed_attempts{0};   // attempts that failed after the TCP connect
  std::atomic<int> restarting_frames{0};

 private:
  boost::asio::awaitable<void> read_loop(std::shared_ptr<client::DerpClient> c) {
    try {
      for (;;) {
        auto m = co_await c->receive();
        if (auto* p = std::get_if<client::RecvPacket>(&m)) {
          if (inbound_ && p->data.size() >= 4) inbound_->record(seq_of(p->data), Clock::now());
        } else if (std::holds_alternative<client::Restarting>(m)) {
          ++restarting_frames;
          if (options_.honours_restarting) {
            endings_.push_back("left on Restarting");
            history_.push_back({Clock::now(), endings_.back()});
            drop(c);
            co_await ensure_connected();
            co_return;
          }
        }
      }
    } catch (const std::exception& e) {
      endings_.push_back(ending_of(e.what()));
      history_.push_back({Clock::now(), endings_.back()});
    }
    drop(c);
    if (stopped_) co_return;
    // magicsock's reader: back off a little, then redial (unless a send did already).
    boost::system::error_code ec;
    backoff_.expires_after(options_.reader_backoff);
    co_await backoff_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (!stopped_) co_await ensure_connected();
  }

  void drop(const std::shared_ptr<client::DerpClient>& c) {
    if (conn_ != c) return;
    c->close();
    conn_.reset();
    node = -1;
  }

  static std::string ending_of(const std::string& what) {
    if (what.find("reset") != std::string::npos) return "reset";
    if (what.find("End of file") != std::string::npos ||
        what.find("end of stream") != std::string::npos || what.find("eof") != std::string::npos) {
      return "end of stream";
    }
    return what;
  }

  static std::uint32_t seq_of(const std::vector<std::uint8_t>& p) {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
  }

  boost::asio::any_io_executor ex_;
  RegionClientOptions options_;
  Flow* inbound_;
  protocol::NodePrivate key_ = protocol::NodePrivate::generate();
  std::shared_ptr<client::DerpClient> conn_;
  bool connecting_ = false;
  int waiters_ = 0;  // sends waiting for the attempt in progress
  bool stopped_ = false;
  boost::asio::steady_timer connected_;  // cancelled when an attempt ends: wakes waiting senders
  boost::asio::steady_timer backoff_;
  std::string last_error_;
  std::vector<std::string> endings_;
  std::vector<Event> history_;
};

}  // namespace derp::testing
