// How a configured TLS hostname (`-hostname`) is interpreted (spec §1.2, §9.2).
#pragma once

#include <string>
#include <string_view>

namespace derp::tls {

// True for an IPv4 or IPv6 literal as Go's net.ParseIP accepts it: no brackets, no zone,
// no port, no leading zeros in IPv4 octets.
bool is_ip_literal(std::string_view text);

// The host a configured `-hostname` names.
struct TlsHostname {
  std::string host;    // without brackets or port; what certificates and SNI are checked against
  bool is_ip = false;  // host is an IP literal: no SNI check, self-signed cert allowed
  bool had_port = false;
};

// Interprets `-hostname`. A bare name or IP is used as is (an IPv6 literal keeps its colons).
// "host:port" and "[v6]:port" lose the port.
//
// Deliberate deviation: derper takes "127.0.0.1:8443" literally. net.ParseIP rejects it, so it is
// no IP, Go's VerifyHostname then finds no matching SAN and derper refuses to start; the SNI check
// could never match either. The port belongs to `-a`, so we drop it and treat the rest exactly
// like derper treats a bare hostname: "127.0.0.1:8443" is the IP 127.0.0.1 (no SNI check) and
// "derp.example.com:8443" is checked against SNI "derp.example.com".
TlsHostname parse_tls_hostname(std::string_view configured);

// The file stem for `<certdir>/<stem>.crt|.key`: `host` with every character outside
// [A-Za-z0-9.-] removed (an IPv6 literal therefore loses its colons), as derper does.
std::string cert_file_stem(std::string_view host);

// Go's hostnameInSNI: no SNI for IP literals ("" is returned), brackets and one trailing dot
// removed otherwise.
std::string sni_for(std::string_view server_name);

}  // namespace derp::tls
