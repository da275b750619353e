#include "mesh/mesh_link.h"

#include <optional>

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <thread>

#include "relay/logging/event.h"

namespace derp::mesh {

namespace asio = boost::asio;
namespace proto = protocol;

MeshLink::MeshLink(server::Server& server, server::Worker& home, std::uint32_t id, MeshPeer peer,
                   MeshLinkOptions options)
    : server_(server),
      home_(home),
      id_(id),
      peer_(std::move(peer)),
      options_(options),
      wake_(home.io()),
      pause_(home.io()) {
  health_.peer = peer_.name;
  health_.state = server::MeshLinkState::kConnecting;
  health_.since = std::chrono::system_clock::now();
}

MeshLink::~MeshLink() = default;

void MeshLink::start() {
  asio::co_spawn(home_.io(), run_holding(shared_from_this()), asio::detached);
}

asio::awaitable<void> MeshLink::run_holding(std::shared_ptr<MeshLink> self) {
  co_await self->run();
}

void MeshLink::stop() {
  stopping_ = true;
  asio::post(home_.io(), [self = shared_from_this()] {
    self->pause_.cancel();
    self->wake_.cancel();
    if (self->current_) self->current_->close();
  });
  for (int i = 0; i < 500 && !finished_; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!finished_) spdlog::warn("mesh {}: link did not stop within 5 s", peer_.name);
}

void MeshLink::set_state(server::MeshLinkState state, std::string error) {
  std::lock_guard lock(mu_);
  health_.state = state;
  health_.since = std::chrono::system_clock::now();
  if (!error.empty()) health_.last_error = std::move(error);
}

MeshLinkHealth MeshLink::health() const {
  MeshLinkHealth h;
  {
    std::lock_guard lock(mu_);
    h = health_;
  }
  h.peer_present_count = server_.registry().forwarded_keys(id_);
  return h;
}

void MeshLink::drop_routes() {
  auto gone = server_.registry().remove_all_forwarders(id_);
  for (const auto& key : gone) server_.peer_gone_from_region(key);
  if (!gone.empty()) {
    logging::log_event(spdlog::level::info, "mesh_routes_dropped",
                       {{"peer", peer_.name}, {"routes", std::to_string(gone.size())}},
                       "mesh {}: dropped {} routes learned from the sibling", peer_.name,
                       gone.size());
  }
}

asio::awaitable<void> MeshLink::run() {
  auto ex = co_await asio::this_coro::executor;
  bool first = true;
  auto delay = options_.first_retry_delay;
  while (!stopping_) {
    if (!first) {
      std::lock_guard lock(mu_);
      ++health_.reconnects;
    }
    first = false;
    set_state(server::MeshLinkState::kConnecting);
    client::ClientOptions o;
    o.url = peer_.url;
    o.key = server_.config().private_key;
    o.mesh_key = options_.mesh_key;
    o.can_ack_pings = false;
    o.tls_server_name = peer_.tls_server_name;
    o.dial_host = peer_.dial_host;
    o.tcp_keepalive_idle = options_.tcp_keepalive_idle;
    o.tcp_user_timeout = options_.tcp_user_timeout;
    std::shared_ptr<client::DerpClient> c;
    std::string error;
    try {
      auto connected = co_await client::DerpClient::connect(ex, o);
      c = std::move(connected);
    } catch (const std::exception& e) {
      error = e.what();
    }
    // stop() during the connect (derpctl mesh remove of a sibling being dialled) cannot cancel
    // it: the link must not start serving once it returns, or it would outlive its removal.
    if (stopping_) {
      if (c) c->close();
      break;
    }
    if (c && c->server_key() == server_.public_key()) {
      spdlog::info("mesh {}: that is this node itself; not linking", peer_.name);
      c->close();
      set_state(server::MeshLinkState::kSelf);
      break;
    }
    if (c) {
      {
        std::lock_guard lock(mu_);
        health_.peer_key = c->server_key();
      }
      if (options_.on_sibling_address) options_.on_sibling_address(c->remote_address());
      current_ = c;
      co_await serve(c);
      current_.reset();
      error = serve_error_;
      drop_routes();
      if (linked_once_) delay = options_.first_retry_delay;
    }
    if (stopping_) break;
    logging::log_event(spdlog::level::warn, "mesh_link_down",
                       {{"peer", peer_.name}, {"error", error}}, "mesh {}: {}; retrying in {} s",
                       peer_.name, error, delay.count() / 1000.0);
    set_state(server::MeshLinkState::kBackoff, error);
    pause_.expires_after(delay);
    delay = std::min(delay * 2, options_.retry_delay);
    boost::system::error_code ec;
    co_await pause_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (stopping_) set_state(server::MeshLinkState::kStopped);
  finished_ = true;
}

asio::awaitable<void> MeshLink::serve(std::shared_ptr<client::DerpClient> c) {
  serve_error_.clear();
  linked_once_ = false;
  bool watching = true;
  try {
    co_await c->watch_conns();
  } catch (const std::exception& e) {
    serve_error_ = e.what();
    watching = false;
  }
  if (!watching) co_return;
  connected_ = true;
  linked_once_ = true;
  set_state(server::MeshLinkState::kUp);
  logging::log_event(spdlog::level::info, "mesh_link_up",
                     {{"peer", peer_.name}, {"sibling", c->server_key().to_text()}},
                     "mesh {}: linked to sibling {}", peer_.name, c->server_key().short_form());
  asio::co_spawn(home_.io(), write_loop(shared_from_this(), c), asio::detached);

  bool announced = false;
  for (;;) {
    client::ReceivedMessage m;
    bool ok = true;
    try {
      m = co_await c->receive();
    } catch (const std::exception& e) {
      serve_error_ = e.what();
      ok = false;
    }
    if (!ok) break;
    if (auto* p = std::get_if<client::PeerPresent>(&m)) {
      server_.registry().add_forwarder(p->presence.key, id_);
      announced = true;
    } else if (auto* g = std::get_if<client::PeerGone>(&m)) {
      if (server_.registry().remove_forwarder(g->key, id_)) server_.peer_gone_from_region(g->key);
    } else if (auto* ping = std::get_if<client::Ping>(&m)) {
      auto frame = server::allocate_packet(proto::kPongFrameLen);
      proto::write_pong(frame->data(), ping->data);
      enqueue(std::move(frame), /*packet_bytes=*/std::nullopt);
    }
  }
  connected_ = false;
  wake_.cancel();
  c->close();
  {
    // Frames queued for this connection are not resent on the next: the sibling's routes may have
    // changed by then, and a Pong answers a Ping of a connection that is gone.
    std::lock_guard lock(mu_);
    health_.dropped_out += queue_.size();
    queue_.clear();
  }
  if (serve_error_.empty() || !announced) {
    // A sibling that closes right after WatchConns did not accept our mesh key.
    serve_error_ = "connection closed" +
                   std::string(announced ? ""
                                         : " right after WatchConns: "
                                           "does the sibling have the "
                                           "same mesh key?") +
                   (serve_error_.empty() ? "" : " (" + serve_error_ + ")");
  }
}

asio::awaitable<void> MeshLink::write_loop(std::shared_ptr<MeshLink> self,
                                           std::shared_ptr<client::DerpClient> c) {
  std::vector<server::PacketRef> batch;
  while (self->connected_) {
    {
      std::lock_guard lock(self->mu_);
      batch.swap(self->queue_);
      self->wake_posted_ = false;
    }
    if (batch.empty()) {
      self->wake_.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      co_await self->wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    for (auto& f : batch) c->queue_raw(f->bytes());
    batch.clear();
    bool ok = true;
    try {
      co_await c->flush();
    } catch (const std::exception& e) {
      ok = false;
      spdlog::warn("mesh {}: write failed: {}", self->peer_.name, e.what());
    }
    if (!ok) {
      c->close();  // the reader sees it and the link reconnects
      break;
    }
  }
}

void MeshLink::enqueue(server::PacketRef frame, std::optional<std::size_t> packet_bytes) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    // Packets are dropped when the link is behind; control frames (Pongs, a few per minute) are
    // not, up to a small margin, so a busy link still answers its sibling's Pings.
    const std::size_t limit = options_.max_queued_packets + (packet_bytes ? 0 : kControlMargin);
    if (queue_.size() >= limit) {
      ++health_.dropped_out;
      return;
    }
    queue_.push_back(std::move(frame));
    if (packet_bytes) {
      ++health_.packets_out;
      health_.bytes_out += *packet_bytes;
    }
    wake = !wake_posted_;
    wake_posted_ = true;
  }
  if (wake) asio::post(home_.io(), [self = shared_from_this()] { self->wake_.cancel(); });
}

void MeshLink::forward(const proto::NodePublic& src, const proto::NodePublic& dst,
                       proto::Bytes packet) {
  if (!connected_) {
    std::lock_guard lock(mu_);
    ++health_.dropped_out;
    return;
  }
  auto frame = server::allocate_packet(proto::forward_packet_frame_size(packet.size()));
  proto::write_forward_packet(frame->data(), src, dst, packet);
  // Counted as sent only once queued: a packet the full queue refuses counts as dropped, once.
  enqueue(std::move(frame), packet.size());
}

}  // namespace derp::mesh
