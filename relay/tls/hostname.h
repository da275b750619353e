// How a configured TLS hostname (`-hostname`) is interpreted (protocol §1.2, §9.2).
#pragma once

#include <string>
#include <string_view>

namespace derp::tls {

// True for an IPv4 or IPv6 literal as Go's net.ParseIP accepts it: no brackets, no zone,
// no port, no leading zeros in IPv4 octets.
bool is_ip_literal(std::string_view text);

// The host a configured `-hostname` names.
struct TlsHostname {
  std::string host;    // what certificates and SNI are checked against
  bool is_ip = false;  // host is an IP literal: no SNI check, self-signed cert allowed
};

// Interprets `-hostname` exactly as derper does: literally. "127.0.0.1:8443" (as used for test
// regions on high ports) is therefore a name, not an IP: its files are
// <certdir>/127.0.0.18443.crt and .key, the certificate must carry that exact DNS name, clients
// send it as SNI, and no self-signed certificate is made for it.
TlsHostname parse_tls_hostname(std::string_view configured);

// The file stem for `<certdir>/<stem>.crt|.key`: `host` with every character outside
// [A-Za-z0-9.-] removed (an IPv6 literal therefore loses its colons), as derper does.
std::string cert_file_stem(std::string_view host);

// Go's hostnameInSNI: no SNI for IP literals ("" is returned), brackets and one trailing dot
// removed otherwise.
std::string sni_for(std::string_view server_name);

}  // namespace derp::tls
