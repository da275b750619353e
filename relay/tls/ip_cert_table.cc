#include "relay/tls/ip_cert_table.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "relay/tls/acme_challenge.h"
#include "relay/tls/hostname.h"
#include "relay/tls/ssl_mark.h"

namespace derp::tls {
namespace {

// Marks a handshake that serve() gave an address's certificate.
const SslMark& served_mark() {
  static const SslMark mark;
  return mark;
}

}  // namespace

std::string local_ip_of(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
  } else if (addr.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], text, sizeof(text));
    } else {
      inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    }
  }
  return text;
}

void IpCertTable::set_wanted(Wanted wanted) {
  std::lock_guard lock(mu_);
  wanted_ = std::move(wanted);
}

void IpCertTable::set_meta_cert(X509* meta) {
  std::lock_guard lock(mu_);
  meta_ = share_x509(meta);
}

void IpCertTable::install(const std::string& ip, std::vector<X509Ptr> chain, EvpPkeyPtr key) {
  auto entry = std::make_shared<Entry>();
  entry->chain = std::move(chain);
  entry->key = std::move(key);
  std::lock_guard lock(mu_);
  entries_[ip] = std::move(entry);
}

bool IpCertTable::has(const std::string& ip) const {
  std::lock_guard lock(mu_);
  return entries_.contains(ip);
}

bool IpCertTable::serve(SSL* ssl) {
  const unsigned char* ext = nullptr;
  std::size_t ext_len = 0;
  std::string sni;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &ext_len) == 1) {
    sni = sni_host_name({ext, ext_len});
  }
  // A DNS name goes to the hostname's certificate; only the empty SNI or an IP literal (which
  // Go clients never send, but others may) are ours.
  if (!sni.empty() && !is_ip_literal(sni)) return false;
  const std::string ip = local_ip_of(SSL_get_fd(ssl));
  if (ip.empty() || (!sni.empty() && sni != ip)) return false;

  std::shared_ptr<const Entry> entry;
  X509Ptr meta;
  Wanted ask;
  {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(ip); it != entries_.end()) {
      entry = it->second;
      if (meta_) meta = share_x509(meta_.get());
    } else if (wanted_ && asked_.size() < kMaxAddresses && asked_.insert(ip).second) {
      ask = wanted_;
    }
  }
  if (ask) ask(ip);
  if (!entry) return false;
  STACK_OF(X509)* extra = sk_X509_new_null();
  bool ok = extra != nullptr;
  for (std::size_t i = 1; ok && i < entry->chain.size(); ++i) {
    ok = sk_X509_push(extra, entry->chain[i].get()) > 0;
  }
  if (ok && meta) ok = sk_X509_push(extra, meta.get()) > 0;
  // SSL_set1_chain takes its own references; the stack's are borrowed.
  if (ok) SSL_certs_clear(ssl);  // see take_acme_challenge: no other slot may stay
  ok = ok && SSL_use_certificate(ssl, entry->chain.front().get()) == 1 &&
       SSL_use_PrivateKey(ssl, entry->key.get()) == 1 && SSL_set1_chain(ssl, extra) == 1 &&
       served_mark().set(ssl);
  sk_X509_free(extra);
  return ok;
}

bool IpCertTable::served(const SSL* ssl) {
  return served_mark().is_set(ssl);
}

}  // namespace derp::tls
