#include "relay/tls/client_context.h"

#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ssl/context.hpp>
#include <cctype>
#include <ctime>

#include "relay/tls/cert_fields.h"
#include "relay/tls/hostname.h"
#include "relay/tls/meta_cert.h"
#include "relay/tls/openssl_ptr.h"
#include "relay/tls/tls_error.h"

namespace derp::tls {
namespace {

namespace ssl = boost::asio::ssl;

constexpr std::string_view kSha256RawPrefix = "sha256-raw:";

// CertName "sha256-raw:" state attached to one SSL.
struct PinnedCert {
  std::string sha256_hex;
  std::string host;  // "" when there is no name to check
};

void free_pin(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<PinnedCert*>(ptr);
}

int pin_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_pin);
  return index;
}

bool host_matches(X509* cert, const std::string& host) {
  if (is_ip_literal(host)) return X509_check_ip_asc(cert, host.c_str(), 0) == 1;
  return X509_check_host(cert, host.data(), host.size(), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
                         nullptr) == 1;
}

// Go's SetConfigExpectedCertHash, run in place of chain verification for pinned connections.
bool pinned_cert_ok(X509_STORE_CTX* store, const PinnedCert& pin) {
  STACK_OF(X509)* presented = X509_STORE_CTX_get0_untrusted(store);
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  std::time_t now = std::time(nullptr);
  bool saw_good = false;
  auto check_one = [&](X509* cert) {
    if (common_name(cert).starts_with(kMetaCertCnPrefix)) return true;
    if (saw_good) return false;  // more than one real certificate
    if (der_sha256_hex(cert) != pin.sha256_hex) return false;
    if (!pin.host.empty() && !host_matches(cert, pin.host)) return false;
    if (X509_cmp_time(X509_get0_notBefore(cert), &now) > 0 ||
        X509_cmp_time(X509_get0_notAfter(cert), &now) < 0) {
      return false;
    }
    saw_good = true;
    return true;
  };
  if (presented == nullptr || sk_X509_find(presented, leaf) < 0) {
    if (!check_one(leaf)) return false;
  }
  for (int i = 0; presented != nullptr && i < sk_X509_num(presented); ++i) {
    if (!check_one(sk_X509_value(presented, i))) return false;
  }
  return saw_good;
}

int verify_cert_chain(X509_STORE_CTX* store, void*) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* pin = ssl ? static_cast<PinnedCert*>(SSL_get_ex_data(ssl, pin_index())) : nullptr;
  if (pin == nullptr) return X509_verify_cert(store);
  if (pinned_cert_ok(store, *pin)) return 1;
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

}  // namespace

std::shared_ptr<ssl::context> make_client_context(bool verify_peer,
                                                  const std::string& extra_ca_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    throw TlsError(openssl_error("tls: client context: setting minimum version"));
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_default_verify_paths(native) != 1) {
    throw TlsError(openssl_error("tls: client context: loading the system trust store"));
  }
  if (!extra_ca_file.empty() &&
      SSL_CTX_load_verify_locations(native, extra_ca_file.c_str(), nullptr) != 1) {
    throw TlsError(openssl_error("tls: cannot load CA file " + extra_ca_file));
  }
  SSL_CTX_set_cert_verify_callback(native, verify_cert_chain, nullptr);
  if (verify_peer) {
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  } else {
    spdlog::warn("tls: certificate verification is OFF for this client (InsecureForTests)");
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

void prepare_client_ssl(SSL* ssl, const std::string& server_name, bool verify_peer,
                        std::string_view cert_name) {
  std::string sni = sni_for(server_name);
  if (!sni.empty() && SSL_set_tlsext_host_name(ssl, sni.c_str()) != 1) {
    throw TlsError(openssl_error("tls: cannot set SNI " + sni));
  }
  // The name the certificate must be valid for: brackets and a trailing dot never belong to it.
  std::string host = server_name;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.ends_with('.')) host.pop_back();

  if (cert_name.starts_with(kSha256RawPrefix)) {
    auto pin = std::make_unique<PinnedCert>();
    pin->sha256_hex = std::string(cert_name.substr(kSha256RawPrefix.size()));
    for (char& c : pin->sha256_hex)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    pin->host = host;
    delete static_cast<PinnedCert*>(SSL_get_ex_data(ssl, pin_index()));  // prepared twice
    if (SSL_set_ex_data(ssl, pin_index(), pin.get()) != 1) {
      throw TlsError(openssl_error("tls: cannot attach certificate pin"));
    }
    pin.release();
    // The pin replaces chain verification; it is enforced even for InsecureForTests nodes.
    SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
    return;
  }
  if (!verify_peer) {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    return;
  }
  if (!cert_name.empty()) host = std::string(cert_name);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(
      param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  int ok = is_ip_literal(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                               : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (ok != 1 || host.empty()) {
    throw TlsError(openssl_error("tls: cannot verify against server name '" + host + "'"));
  }
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
}

}  // namespace derp::tls
