// An async DERP client (protocol §1.3, §2.4 client side) over TCP, TLS or WebSocket, with fast
// start. Used by integration tests, mesh links, probes and the load generator: one implementation.
//
// Usage (inside a coroutine):
//   auto c = co_await DerpClient::connect(executor, options);   // returns after ServerInfo
//   co_await c->send_packet(peer, bytes);
//   auto msg = co_await c->receive();
// One receive() and one send at a time may be in flight.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "relay/client/byte_stream.h"
#include "relay/protocol/client_info.h"
#include "relay/protocol/frame.h"

namespace derp::client {

struct ClientOptions {
  std::string url;  // http://host:port/derp, https://…, ws://…, wss://…
  protocol::NodePrivate key;
  std::optional<protocol::KeyBytes> mesh_key;
  bool can_ack_pings = true;
  bool is_prober = false;
  bool fast_start = true;       // used only when TLS 1.3 shows the meta certificate
  bool verify_tls = true;       // against the system store (SSL_CERT_FILE honoured)
  std::string ca_file;          // extra trusted CA, for tests
  std::string tls_server_name;  // SNI and verified name; default: the URL's host
  std::string tls_cert_name;    // DERPNode.CertName: see tls::prepare_client_ssl
  std::string dial_host;        // connect here instead of the URL's host (mesh host/dialhost)
  std::string ideal_node;       // sends Ideal-Node when not empty
  std::chrono::milliseconds timeout{10000};  // the whole connect, as the reference's budget
  // TCP keepalive idle time and TCP_USER_TIMEOUT for the dialled socket; zero leaves the OS
  // defaults. Long-lived links (mesh) set them so a silent peer is noticed.
  std::chrono::seconds tcp_keepalive_idle{0};
  std::chrono::milliseconds tcp_user_timeout{0};
};

struct RecvPacket {
  protocol::NodePublic src;
  std::vector<std::uint8_t> data;
};
struct KeepAlive {};
struct PeerGone {
  protocol::NodePublic key;
  protocol::PeerGoneReason reason;
};
struct PeerPresent {
  protocol::PeerPresentFrame presence;
};
struct Ping {
  protocol::PingData data;
};
struct Pong {
  protocol::PingData data;
};
struct Health {
  std::string problem;
};
struct Restarting {
  protocol::RestartingFrame hint;
};
struct OtherFrame {
  std::uint8_t type;
  std::vector<std::uint8_t> payload;
};
using ReceivedMessage = std::variant<RecvPacket, KeepAlive, PeerGone, PeerPresent, Ping, Pong,
                                     Health, Restarting, OtherFrame>;

// Why connect() failed. `dialled` is false when no TCP connection was made (name resolution or
// the TCP connect failed or timed out): the one failure after which Tailscale's client goes on to
// the next node of its region; after any other it starts again at the first node.
class ConnectError : public std::runtime_error {
 public:
  ConnectError(const std::string& what, bool dialled)
      : std::runtime_error(what), dialled_(dialled) {}
  bool dialled() const { return dialled_; }

 private:
  bool dialled_;
};

class DerpClient {
 public:
  // Throws ConnectError, with the URL and the step that failed.
  static boost::asio::awaitable<std::unique_ptr<DerpClient>> connect(
      boost::asio::any_io_executor ex, ClientOptions options);
  ~DerpClient();

  boost::asio::awaitable<ReceivedMessage> receive();
  boost::asio::awaitable<void> send_packet(const protocol::NodePublic& dst, protocol::Bytes packet);
  boost::asio::awaitable<void> forward_packet(const protocol::NodePublic& src,
                                              const protocol::NodePublic& dst,
                                              protocol::Bytes packet);
  boost::asio::awaitable<void> note_preferred(bool preferred);
  boost::asio::awaitable<void> watch_conns();
  boost::asio::awaitable<void> close_peer(const protocol::NodePublic& key);
  boost::asio::awaitable<void> ping(const protocol::PingData& data);
  boost::asio::awaitable<void> pong(const protocol::PingData& data);
  // Appends frames and writes them with one call: for batching senders.
  void queue_packet(const protocol::NodePublic& dst, protocol::Bytes packet);
  // Appends already-encoded frames (e.g. ForwardPacket built elsewhere) for the next flush().
  void queue_raw(protocol::Bytes frames) { out_.insert(out_.end(), frames.begin(), frames.end()); }
  boost::asio::awaitable<void> flush();
  // Writes raw bytes (tests of hostile input).
  boost::asio::awaitable<void> write_raw(protocol::Bytes bytes);

  const protocol::NodePublic& server_key() const { return server_key_; }
  const protocol::NodePublic& public_key() const { return public_key_; }
  bool used_fast_start() const { return fast_start_; }
  // The server's address as connected to; unspecified once the connection is gone.
  boost::asio::ip::address remote_address() const;
  void close();

 private:
  // Where connect() is, so its deadline can close the right socket and name the step.
  struct ConnectProgress {
    boost::asio::ip::tcp::socket* socket = nullptr;
    std::string step;
    bool done = false;
    bool fired = false;
  };
  explicit DerpClient(std::unique_ptr<ByteStream> stream);
  static boost::asio::awaitable<std::unique_ptr<DerpClient>> connect_steps(
      boost::asio::any_io_executor ex, const ClientOptions& o,
      std::shared_ptr<ConnectProgress> progress);
  boost::asio::awaitable<protocol::FrameHeader> read_frame(std::vector<std::uint8_t>& payload);
  boost::asio::awaitable<void> fill(std::size_t at_least);
  boost::asio::awaitable<void> handshake(const ClientOptions& o, bool fast_start,
                                         const std::string& host_header);

  std::unique_ptr<ByteStream> stream_;
  std::vector<std::uint8_t> in_;  // received, not yet consumed
  std::size_t in_start_ = 0;
  std::vector<std::uint8_t> out_;
  protocol::NodePrivate private_key_;
  protocol::NodePublic public_key_;
  protocol::NodePublic server_key_;
  bool fast_start_ = false;
};

}  // namespace derp::client
