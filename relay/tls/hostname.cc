#include "relay/tls/hostname.h"

#include <arpa/inet.h>

#include <algorithm>

namespace derp::tls {

bool is_ip_literal(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  std::string s(text);
  unsigned char buf[sizeof(struct in6_addr)];
  // glibc's inet_pton rejects IPv4 octets with leading zeros, like Go since 1.17.
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

TlsHostname parse_tls_hostname(std::string_view configured) {
  TlsHostname out;
  out.host = std::string(configured);
  out.is_ip = is_ip_literal(configured);
  return out;
}

std::string cert_file_stem(std::string_view host) {
  std::string out;
  for (char c : host) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-';
    if (keep) out.push_back(c);
  }
  return out;
}

std::string sni_for(std::string_view server_name) {
  std::string_view host = server_name;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto pct = host.find('%');  // a zone ("fe80::1%eth0") makes it an IP literal for Go too
  if (is_ip_literal(host.substr(0, pct))) return "";
  if (host.ends_with('.')) host.remove_suffix(1);
  return std::string(host);
}

}  // namespace derp::tls
