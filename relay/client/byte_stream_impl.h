// Constructors of the concrete byte streams (used by DerpClient::connect).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "relay/client/byte_stream.h"

namespace derp::client {

std::unique_ptr<ByteStream> make_tcp_stream(boost::asio::ip::tcp::socket s);
std::unique_ptr<ByteStream> make_tls_stream(
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> s,
    std::shared_ptr<boost::asio::ssl::context> ctx);
boost::asio::awaitable<std::unique_ptr<ByteStream>> make_websocket_stream(
    boost::asio::ip::tcp::socket s, const std::string& host_header, const std::string& path);
boost::asio::awaitable<std::unique_ptr<ByteStream>> make_websocket_stream(
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> s,
    std::shared_ptr<boost::asio::ssl::context> ctx, const std::string& host_header,
    const std::string& path);

}  // namespace derp::client
