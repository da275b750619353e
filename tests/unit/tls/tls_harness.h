// Test support: one TLS handshake over loopback between a server context and a configurable
// client, reporting what each side saw.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "relay/protocol/key.h"

namespace derp::tls::testing {

struct ClientOptions {
  std::string server_name = "localhost";
  bool verify_peer = false;
  std::string cert_name;          // DERPNode.CertName
  std::string ca_file;            // extra trust anchor
  std::vector<std::string> alpn;  // offered protocols, none when empty
  bool tls12_only = false;
};

struct HandshakeResult {
  boost::system::error_code client_error;
  boost::system::error_code server_error;
  bool ok() const { return !client_error && !server_error; }
  bool tls13 = false;
  int version = 0;
  std::string alpn;                        // selected, "" for none
  std::vector<std::string> peer_chain_cn;  // as the client received it
  std::vector<std::string> peer_chain_sha256;
  std::optional<protocol::NodePublic> meta_key;  // find_meta_cert_key on the client
  std::vector<std::string> date_problems;        // check_peer_cert_dates(now)
  std::string server_sni;                        // what the server saw, "" for none
};

HandshakeResult run_handshake(const std::shared_ptr<boost::asio::ssl::context>& server_ctx,
                              const ClientOptions& options);

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace derp::tls::testing
