#include "tests/unit/tls/tls_harness.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "relay/tls/cert_fields.h"
#include "relay/tls/client_context.h"
#include "relay/tls/meta_cert.h"
#include "relay/tls/probe_checks.h"
#include "relay/tls/tls_socket.h"

namespace derp::tls::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A hung peer fails the test instead of hanging it.
void set_timeouts(tcp::socket& s) {
  timeval tv{10, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

}  // namespace

HandshakeResult run_handshake(const std::shared_ptr<asio::ssl::context>& server_ctx,
                              const ClientOptions& options) {
  HandshakeResult result;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto endpoint = acceptor.local_endpoint();

  std::thread server([&] {
    asio::io_context server_io;
    tcp::socket sock(server_io);
    boost::system::error_code ec;
    acceptor.accept(sock, ec);
    if (ec) {
      result.server_error = ec;
      return;
    }
    // The server side is the one derpd runs: TlsSocket, OpenSSL straight on the socket.
    TlsSocket stream(std::move(sock), server_ctx);
    char byte;
    stream.async_handshake([&](boost::system::error_code hec) {
      ec = hec;
      if (const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) {
        result.server_sni = sni;
      }
      if (ec) return;
      asio::async_read(stream, asio::buffer(&byte, 1), [&](boost::system::error_code rec, size_t) {
        ec = rec;
        if (ec) return;
        asio::async_write(stream, asio::buffer("y", 1),
                          [&](boost::system::error_code wec, size_t) { ec = wec; });
      });
    });
    // A hung peer fails the test instead of hanging it.
    if (server_io.run_for(std::chrono::seconds(10)) == 0 || !server_io.stopped()) {
      ec = asio::error::timed_out;
    }
    result.server_error = ec;
  });

  auto client_ctx = make_client_context(options.verify_peer, options.ca_file);
  if (options.tls12_only)
    SSL_CTX_set_max_proto_version(client_ctx->native_handle(), TLS1_2_VERSION);
  asio::ssl::stream<tcp::socket> stream(io, *client_ctx);
  boost::system::error_code ec;
  stream.next_layer().connect(endpoint, ec);
  if (!ec) {
    set_timeouts(stream.next_layer());
    SSL* ssl = stream.native_handle();
    try {
      prepare_client_ssl(ssl, options.server_name, options.verify_peer, options.cert_name);
    } catch (...) {
      stream.next_layer().close();
      server.join();
      throw;
    }
    if (!options.alpn.empty()) {
      std::string wire;
      for (const auto& p : options.alpn) {
        wire.push_back(static_cast<char>(p.size()));
        wire += p;
      }
      SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned>(wire.size()));
    }
    stream.handshake(asio::ssl::stream_base::client, ec);
    if (!ec) {
      result.version = SSL_version(ssl);
      result.tls13 = negotiated_tls13(ssl);
      const unsigned char* alpn = nullptr;
      unsigned alpn_len = 0;
      SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
      result.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
      STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
      for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
        result.peer_chain_cn.push_back(common_name(sk_X509_value(chain, i)));
        result.peer_chain_sha256.push_back(der_sha256_hex(sk_X509_value(chain, i)));
      }
      result.meta_key = find_meta_cert_key(ssl);
      result.date_problems = check_peer_cert_dates(ssl, std::time(nullptr));
      asio::write(stream, asio::buffer("x", 1), ec);
      char byte;
      if (!ec) asio::read(stream, asio::buffer(&byte, 1), ec);
    }
  }
  result.client_error = ec;
  if (ec) stream.next_layer().close();  // lets a server still waiting on us finish
  server.join();
  return result;
}

TempDir::TempDir() {
  std::string tmpl = "/tmp/derp_tls_test.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace derp::tls::testing
