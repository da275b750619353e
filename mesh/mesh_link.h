// One mesh link: a DERP client connection from this node to one sibling of its region, with the
// mesh key, that watches the sibling's connections (protocol §5.2) and carries ForwardPacket frames
// for keys that live there (§5.3). It reconnects after a failure with a 5 s pause, as the
// reference does, and drops the sibling's routes while it is down.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mesh/mesh_peers.h"
#include "relay/client/derp_client.h"
#include "relay/server/mesh_forwarder.h"
#include "relay/server/packet_pool.h"
#include "relay/server/server.h"

namespace derp::mesh {

struct MeshLinkHealth {
  std::string peer;
  server::MeshLinkState state = server::MeshLinkState::kConnecting;
  std::chrono::system_clock::time_point since;
  std::uint64_t reconnects = 0;
  std::string last_error;
  std::size_t peer_present_count = 0;  // keys this sibling announced
  std::uint64_t packets_out = 0, bytes_out = 0, dropped_out = 0;
  protocol::NodePublic peer_key;  // the sibling's server key once known
};

struct MeshLinkOptions {
  protocol::KeyBytes mesh_key{};
  // Retries start quickly and double up to the reference's 5 s, so a region that boots together
  // links up at once and a dead sibling is not hammered.
  std::chrono::milliseconds first_retry_delay{250};
  std::chrono::milliseconds retry_delay{5000};
  std::size_t max_queued_packets = 4096;
  // The node's --tcp-keepalive-time and --tcp-user-timeout, applied to the link's own socket too:
  // a sibling that goes silent (partition, dead host) must break the link so its routes go.
  std::chrono::seconds tcp_keepalive_idle{600};
  std::chrono::milliseconds tcp_user_timeout{15000};
  // Told the sibling's address each time the link connects, so the node's connection limits can
  // exempt the sibling's own link into this node.
  std::function<void(const boost::asio::ip::address&)> on_sibling_address;
};

class MeshLink : public server::MeshForwarder, public std::enable_shared_from_this<MeshLink> {
 public:
  MeshLink(server::Server& server, server::Worker& home, std::uint32_t id, MeshPeer peer,
           MeshLinkOptions options);
  ~MeshLink() override;

  void start();
  // Stops the link and waits for it to finish (from any thread but its worker's).
  void stop();
  void forward(const protocol::NodePublic& src, const protocol::NodePublic& dst,
               protocol::Bytes packet) override;
  MeshLinkHealth health() const;
  std::uint32_t id() const { return id_; }
  // The link's coroutine has ended (after stop(), or on meeting this node itself), its routes
  // dropped.
  bool finished() const { return finished_; }

 private:
  static boost::asio::awaitable<void> run_holding(std::shared_ptr<MeshLink> self);
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> serve(std::shared_ptr<client::DerpClient> c);
  static boost::asio::awaitable<void> write_loop(std::shared_ptr<MeshLink> self,
                                                 std::shared_ptr<client::DerpClient> c);
  // Queues a frame for the writer. `packet_bytes`: a forwarded packet of that size (counted as
  // sent once queued); nullopt: a control frame.
  void enqueue(server::PacketRef frame, std::optional<std::size_t> packet_bytes);
  static constexpr std::size_t kControlMargin = 64;
  void set_state(server::MeshLinkState state, std::string error = {});
  void drop_routes();

  server::Server& server_;
  server::Worker& home_;
  const std::uint32_t id_;
  const MeshPeer peer_;
  const MeshLinkOptions options_;

  boost::asio::steady_timer wake_;   // wakes the writer when frames are queued
  boost::asio::steady_timer pause_;  // the pause between attempts
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  std::shared_ptr<client::DerpClient> current_;  // home worker's thread only
  std::string serve_error_;                      // why the last connection ended
  bool linked_once_ = false;                     // the last connection got as far as watching

  mutable std::mutex mu_;  // guards the queue and the health fields below
  std::vector<server::PacketRef> queue_;
  bool wake_posted_ = false;
  MeshLinkHealth health_;
  std::atomic<bool> finished_{false};
};

}  // namespace derp::mesh
