#include "relay/client/derp_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <stdexcept>

#include "relay/client/byte_stream_impl.h"
#include "relay/client/derp_url.h"
#include "relay/protocol/box.h"
#include "relay/tls/client_context.h"
#include "relay/tls/meta_cert.h"
#include "relay/tls/tls_socket.h"
#include "relay/transport/socket_calls.h"

namespace derp::client {

namespace asio = boost::asio;
using asio::ip::tcp;
namespace proto = protocol;

namespace {

std::string_view as_text(const std::vector<std::uint8_t>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

}  // namespace

DerpClient::DerpClient(std::unique_ptr<ByteStream> stream) : stream_(std::move(stream)) {}

DerpClient::~DerpClient() = default;

asio::ip::address DerpClient::remote_address() const {
  boost::system::error_code ec;
  auto endpoint = stream_->socket().remote_endpoint(ec);
  return ec ? asio::ip::address() : endpoint.address();
}

void DerpClient::close() {
  stream_->close();
}

// The steps of connect(), apart from its error handling: gcc 12 miscompiles a coroutine that
// co_returns from inside a try block (locals are destroyed twice).
asio::awaitable<std::unique_ptr<DerpClient>> DerpClient::connect_steps(
    asio::any_io_executor ex, const ClientOptions& o, std::shared_ptr<ConnectProgress> progress) {
  auto url = parse_derp_url(o.url);
  if (!url) throw std::runtime_error("DERP URL \"" + o.url + "\" is not http(s):// or ws(s)://");
  const std::string dial = o.dial_host.empty() ? url->host : o.dial_host;
  const std::string name = o.tls_server_name.empty() ? url->host : o.tls_server_name;
  const std::string host_header = url->host_header();

  progress->step = "resolve";
  tcp::resolver resolver(ex);
  // Named locals, not temporaries, around co_await: gcc 12 destroys some temporaries twice.
  const std::string port = std::to_string(url->port);
  auto endpoints = co_await resolver.async_resolve(dial, port, asio::use_awaitable);
  // A resolve cannot be interrupted; one that outlasted the deadline ends the attempt here.
  if (progress->fired) throw std::runtime_error("name resolution outlasted the deadline");
  tcp::socket socket(ex);
  progress->socket = &socket;
  progress->step = "connect";
  co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
  transport::set_tcp_options(socket, o.tcp_keepalive_idle, o.tcp_user_timeout);

  std::unique_ptr<ByteStream> stream;
  std::optional<proto::NodePublic> meta_key;
  if (url->tls) {
    progress->step = "TLS handshake";
    auto ctx = tls::make_client_context(o.verify_tls, o.ca_file);
    tls::TlsSocket tls_stream(std::move(socket), ctx, tls::TlsRole::kClient);
    progress->socket = &tls_stream.next_layer();
    tls::prepare_client_ssl(tls_stream.native_handle(), name, o.verify_tls, o.tls_cert_name);
    co_await tls_stream.async_handshake(asio::use_awaitable);
    if (tls::negotiated_tls13(tls_stream.native_handle())) {
      meta_key = tls::find_meta_cert_key(tls_stream.native_handle());
    }
    if (url->websocket) {
      progress->step = "WebSocket handshake";
      stream = co_await make_websocket_stream(std::move(tls_stream), host_header, url->path,
                                              progress->socket);
    } else {
      stream = make_tls_stream(std::move(tls_stream));
    }
  } else if (url->websocket) {
    progress->step = "WebSocket handshake";
    stream =
        co_await make_websocket_stream(std::move(socket), host_header, url->path, progress->socket);
  } else {
    stream = make_tcp_stream(std::move(socket));
  }
  progress->socket = &stream->socket();

  std::unique_ptr<DerpClient> client(new DerpClient(std::move(stream)));
  client->private_key_ = o.key;
  client->public_key_ = o.key.public_key();
  bool fast = o.fast_start && meta_key && !url->websocket;
  if (fast) client->server_key_ = *meta_key;
  progress->step = "DERP handshake";
  const std::string upgrade_host = url->websocket ? std::string() : host_header;
  co_await client->handshake(o, fast, upgrade_host);
  co_return client;
}

asio::awaitable<std::unique_ptr<DerpClient>> DerpClient::connect(asio::any_io_executor ex,
                                                                 ClientOptions o) {
  auto progress = std::make_shared<ConnectProgress>();
  asio::steady_timer deadline(ex);
  deadline.expires_after(o.timeout);
  deadline.async_wait([progress](boost::system::error_code ec) {
    if (ec || progress->done) return;
    progress->fired = true;  // during the resolve too: connect_steps checks it after
    if (!progress->socket) return;
    boost::system::error_code ignored;
    progress->socket->close(ignored);
  });
  std::unique_ptr<DerpClient> client;
  std::string failure;
  try {
    client = co_await connect_steps(ex, o, progress);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  progress->done = true;
  deadline.cancel();
  if (!client) {
    const bool dialled = progress->step != "resolve" && progress->step != "connect";
    if (progress->fired) {
      throw ConnectError("DERP connect to " + o.url + " timed out during " + progress->step,
                         dialled);
    }
    throw ConnectError(
        "DERP connect to " + o.url + " failed during " + progress->step + ": " + failure, dialled);
  }
  co_return client;
}

asio::awaitable<void> DerpClient::handshake(const ClientOptions& o, bool fast,
                                            const std::string& host_header) {
  auto client_info_frame = [&] {
    proto::ClientInfo info;
    info.mesh_key = o.mesh_key;
    info.version = proto::kProtocolVersion;
    info.can_ack_pings = o.can_ack_pings;
    info.is_prober = o.is_prober;
    std::string json = proto::write_client_info_json(info);
    auto sealed = proto::seal_box(
        proto::Bytes(reinterpret_cast<const std::uint8_t*>(json.data()), json.size()), private_key_,
        server_key_);
    if (sealed.empty()) throw std::runtime_error("server key is of small order");
    proto::append_client_info(out_, public_key_, sealed);
  };

  fast_start_ = fast;
  if (!host_header.empty()) {  // raw upgrade; WebSocket already upgraded
    std::string request =
        "GET /derp HTTP/1.1\r\nHost: " + host_header +
        "\r\nUser-Agent: derpd-client\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n";
    if (fast) request += "Derp-Fast-Start: 1\r\n";
    if (!o.ideal_node.empty()) request += "Ideal-Node: " + o.ideal_node + "\r\n";
    request += "\r\n";
    out_.assign(request.begin(), request.end());
    if (fast) client_info_frame();  // the request and ClientInfo go in one write
    co_await flush();
    if (!fast) {
      std::size_t end;
      for (;;) {
        co_await fill(in_.size() - in_start_ + 1);
        std::string_view seen(reinterpret_cast<const char*>(in_.data()) + in_start_,
                              in_.size() - in_start_);
        end = seen.find("\r\n\r\n");
        if (end != std::string_view::npos) {
          if (!seen.starts_with("HTTP/1.1 101")) {
            throw std::runtime_error("server refused the upgrade: " +
                                     std::string(seen.substr(0, seen.find("\r\n"))));
          }
          in_start_ += end + 4;
          break;
        }
        if (seen.size() > 16384) throw std::runtime_error("HTTP response headers too long");
      }
    }
  }

  std::vector<std::uint8_t> payload;
  auto h = co_await read_frame(payload);
  if (h.type != static_cast<std::uint8_t>(proto::FrameType::kServerKey)) {
    throw std::runtime_error("invalid server greeting: frame type " + std::to_string(h.type));
  }
  auto key = proto::parse_server_key(payload);
  if (!key)
    throw std::runtime_error("invalid server greeting: " + std::string(to_string(key.error)));
  if (fast && key.value != server_key_) {
    throw std::runtime_error("server key differs from the key in its TLS meta certificate");
  }
  server_key_ = key.value;
  if (!fast) {
    client_info_frame();
    co_await flush();
  }
  h = co_await read_frame(payload);
  if (h.type != static_cast<std::uint8_t>(proto::FrameType::kServerInfo)) {
    throw std::runtime_error("expected ServerInfo, got frame type " + std::to_string(h.type));
  }
  auto json = proto::open_box(payload, private_key_, server_key_);
  if (!json || !proto::parse_server_info_json(as_text(*json))) {
    throw std::runtime_error("ServerInfo does not open or parse");
  }
}

asio::awaitable<void> DerpClient::fill(std::size_t at_least) {
  while (in_.size() - in_start_ < at_least) {
    if (in_start_ > 0) {
      in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_start_));
      in_start_ = 0;
    }
    std::size_t old = in_.size();
    in_.resize(old + std::max<std::size_t>(16384, at_least - old));
    std::size_t got = 0;
    try {
      got = co_await stream_->read_some(asio::buffer(in_.data() + old, in_.size() - old));
    } catch (...) {
      in_.resize(old);
      throw;
    }
    in_.resize(old + got);
  }
}

asio::awaitable<proto::FrameHeader> DerpClient::read_frame(std::vector<std::uint8_t>& payload) {
  co_await fill(proto::kFrameHeaderLen);
  auto h = *proto::parse_frame_header(proto::Bytes(in_).subspan(in_start_));
  if (h.length > proto::kMaxClientFrameLen) {
    throw std::runtime_error("frame of " + std::to_string(h.length) + " bytes is too long");
  }
  co_await fill(proto::kFrameHeaderLen + h.length);
  auto begin = in_.begin() + static_cast<std::ptrdiff_t>(in_start_ + proto::kFrameHeaderLen);
  payload.assign(begin, begin + h.length);
  in_start_ += proto::kFrameHeaderLen + h.length;
  if (in_start_ == in_.size()) {
    in_.clear();
    in_start_ = 0;
  }
  co_return h;
}

asio::awaitable<ReceivedMessage> DerpClient::receive() {
  std::vector<std::uint8_t> payload;
  for (;;) {
    auto h = co_await read_frame(payload);
    switch (static_cast<proto::FrameType>(h.type)) {
      case proto::FrameType::kRecvPacket: {
        auto f = proto::parse_recv_packet(payload);
        if (!f) continue;  // short frames are skipped, as real clients do
        co_return RecvPacket{f.value.src, {f.value.packet.begin(), f.value.packet.end()}};
      }
      case proto::FrameType::kKeepAlive:
        co_return KeepAlive{};
      case proto::FrameType::kPeerGone: {
        auto f = proto::parse_peer_gone(payload);
        if (!f) continue;
        co_return PeerGone{f.value.key, f.value.reason};
      }
      case proto::FrameType::kPeerPresent: {
        auto f = proto::parse_peer_present(payload);
        if (!f) continue;
        co_return PeerPresent{f.value};
      }
      case proto::FrameType::kPing: {
        auto f = proto::parse_pong(payload);  // same 8-byte rule on the client side
        if (!f) continue;
        co_return Ping{f.value};
      }
      case proto::FrameType::kPong: {
        auto f = proto::parse_pong(payload);
        if (!f) continue;
        co_return Pong{f.value};
      }
      case proto::FrameType::kHealth:
        co_return Health{std::string(payload.begin(), payload.end())};
      case proto::FrameType::kRestarting: {
        auto f = proto::parse_restarting(payload);
        if (!f) continue;
        co_return Restarting{f.value};
      }
      default:
        co_return OtherFrame{h.type, std::move(payload)};
    }
  }
}

asio::awaitable<void> DerpClient::flush() {
  if (out_.empty()) co_return;
  std::vector<std::uint8_t> batch;
  batch.swap(out_);
  co_await stream_->write_all(asio::buffer(batch));
  batch.clear();
  if (out_.empty()) out_.swap(batch);  // keep the capacity for the next batch
}

void DerpClient::queue_packet(const proto::NodePublic& dst, proto::Bytes packet) {
  proto::append_send_packet(out_, dst, packet);
}

asio::awaitable<void> DerpClient::send_packet(const proto::NodePublic& dst, proto::Bytes packet) {
  proto::append_send_packet(out_, dst, packet);
  co_await flush();
}

asio::awaitable<void> DerpClient::forward_packet(const proto::NodePublic& src,
                                                 const proto::NodePublic& dst,
                                                 proto::Bytes packet) {
  proto::append_forward_packet(out_, src, dst, packet);
  co_await flush();
}

asio::awaitable<void> DerpClient::note_preferred(bool preferred) {
  proto::append_note_preferred(out_, preferred);
  co_await flush();
}

asio::awaitable<void> DerpClient::watch_conns() {
  proto::append_watch_conns(out_);
  co_await flush();
}

asio::awaitable<void> DerpClient::close_peer(const proto::NodePublic& key) {
  proto::append_close_peer(out_, key);
  co_await flush();
}

asio::awaitable<void> DerpClient::ping(const proto::PingData& data) {
  proto::append_ping(out_, data);
  co_await flush();
}

asio::awaitable<void> DerpClient::pong(const proto::PingData& data) {
  proto::append_pong(out_, data);
  co_await flush();
}

asio::awaitable<void> DerpClient::write_raw(proto::Bytes bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  co_await flush();
}

}  // namespace derp::client
