// Constructors of the concrete byte streams (used by DerpClient::connect).
#pragma once

#include "relay/client/byte_stream.h"
#include "relay/tls/tls_socket.h"

namespace derp::client {

std::unique_ptr<ByteStream> make_tcp_stream(boost::asio::ip::tcp::socket s);
std::unique_ptr<ByteStream> make_tls_stream(tls::TlsSocket s);
// `watch` is pointed at the socket while the WebSocket handshake runs on it, so the caller's
// connect deadline can close the socket that is actually in use (it moves into the stream).
boost::asio::awaitable<std::unique_ptr<ByteStream>> make_websocket_stream(
    boost::asio::ip::tcp::socket s, const std::string& host_header, const std::string& path,
    boost::asio::ip::tcp::socket*& watch);
boost::asio::awaitable<std::unique_ptr<ByteStream>> make_websocket_stream(
    tls::TlsSocket s, const std::string& host_header, const std::string& path,
    boost::asio::ip::tcp::socket*& watch);

}  // namespace derp::client
