// --acme-ip-certs beside a DNS --hostname (protocol §9.2): certificates for the node's own IP
// addresses, served to a handshake that sends no SNI, or whose SNI is the IP it arrived on. Which
// addresses are wanted is learnt from the handshakes themselves, as derper does: the first such
// handshake on an address without a certificate gets the hostname's certificate and asks the
// ACME manager (once per address) to obtain one.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "relay/tls/openssl_ptr.h"

namespace derp::tls {

class IpCertTable {
 public:
  // Called (from a worker, without blocking) the first time an address without a certificate is
  // asked for. At most kMaxAddresses addresses are ever asked for.
  using Wanted = std::function<void(const std::string& ip)>;
  static constexpr std::size_t kMaxAddresses = 8;

  void set_wanted(Wanted wanted);
  // The meta certificate appended to every chain; CertStore refreshes it daily.
  void set_meta_cert(X509* meta);
  // Serves `chain` (leaf first) and `key` for `ip` to new handshakes.
  void install(const std::string& ip, std::vector<X509Ptr> chain, EvpPkeyPtr key);
  bool has(const std::string& ip) const;

  // From the ClientHello callback: when the SNI is absent or is the connection's local IP, serve
  // that address's certificate (true), or ask for one and leave the handshake alone (false).
  bool serve(SSL* ssl);
  // Whether serve() took this handshake (its SNI, an IP, is then not checked against the
  // hostname).
  static bool served(const SSL* ssl);

 private:
  struct Entry {
    std::vector<X509Ptr> chain;
    EvpPkeyPtr key;
  };
  mutable std::mutex mu_;
  Wanted wanted_;
  X509Ptr meta_;
  std::map<std::string, std::shared_ptr<const Entry>> entries_;
  std::set<std::string> asked_;
};

// The IP a server socket was reached on, as text (IPv4-mapped IPv6 unmapped), or "".
std::string local_ip_of(int fd);

}  // namespace derp::tls
