// derper's self-signed certificate for an IP `-hostname` whose files are missing (protocol §9.2).
#pragma once

#include <string>

namespace derp::tls {

struct GeneratedIpCert {
  std::string sha256_hex;  // of the DER leaf
  std::string node_json;   // the ready-made DERP node line operators paste into their map
};

// Writes `cert_path` (0644) and `key_path` (0600): ECDSA P-256 key, random 128-bit serial,
// CN = ip, IP SAN, valid for one year, KeyUsage digitalSignature+keyEncipherment, EKU serverAuth.
// Throws TlsError, or std::runtime_error when a file cannot be written (relay/files).
GeneratedIpCert write_self_signed_ip_cert(const std::string& cert_path, const std::string& key_path,
                                          const std::string& ip);

// {"Name":"custom","RegionID":900,"HostName":"<ip>","CertName":"sha256-raw:<hex>"}
std::string custom_derp_node_json(const std::string& host_name, const std::string& sha256_hex);

}  // namespace derp::tls
