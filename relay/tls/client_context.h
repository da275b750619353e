// Client-side TLS for DERP clients, mesh watchers and the prober (protocol §1.2): the shared
// context, and the per-connection SNI and certificate verification a DERP node asks for.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

namespace boost::asio::ssl {
class context;
}

namespace derp::tls {

// TLS 1.2+ client context trusting the system roots (SSL_CERT_FILE / SSL_CERT_DIR honoured) plus
// `extra_ca_file` when given. verify_peer=false is DERPNode.InsecureForTests: it is logged, never
// silent. Throws TlsError.
std::shared_ptr<boost::asio::ssl::context> make_client_context(
    bool verify_peer, const std::string& extra_ca_file = "");

// Per connection, before the handshake. `server_name` is DERPNode.HostName: sent as SNI unless it
// is an IP literal (as Go does), and the certificate must be valid for it (DNS SAN or IP SAN).
// `cert_name` is DERPNode.CertName:
//   - "" : verify against server_name;
//   - "sha256-raw:<64 hex>": ignore the CA chain; exactly one certificate besides the meta cert may
//     be presented, its DER SHA-256 must match, it must be valid for server_name and within its
//     validity dates (checked even when verify_peer is false, as Go does);
//   - anything else: verify the chain against that DNS name instead of server_name (SNI stays
//     server_name).
// Throws TlsError.
void prepare_client_ssl(SSL* ssl, const std::string& server_name, bool verify_peer,
                        std::string_view cert_name = {});

}  // namespace derp::tls
