#include "relay/tls/ip_cert.h"

#include "relay/files/atomic_file.h"
#include "relay/tls/cert_builder.h"
#include "relay/tls/cert_fields.h"
#include "relay/tls/pem_files.h"

namespace derp::tls {

GeneratedIpCert write_self_signed_ip_cert(const std::string& cert_path, const std::string& key_path,
                                          const std::string& ip) {
  CertSpec spec;
  spec.common_name = ip;
  spec.ip_addresses = {ip};
  spec.lifetime_seconds = 365LL * 24 * 60 * 60;
  spec.key_usage = "critical,digitalSignature,keyEncipherment";
  spec.ext_key_usage = "serverAuth";
  EvpPkeyPtr key = generate_p256_key();
  X509Ptr cert = issue_cert(spec, key.get());

  // The key first: a certificate without its key would make the next start fail differently.
  files::write_file_atomically(key_path, private_key_to_pem(key.get()), 0600);
  files::write_file_atomically(cert_path, cert_to_pem(cert.get()), 0644);

  GeneratedIpCert out;
  out.sha256_hex = der_sha256_hex(cert.get());
  out.node_json = custom_derp_node_json(ip, out.sha256_hex);
  return out;
}

std::string custom_derp_node_json(const std::string& host_name, const std::string& sha256_hex) {
  return R"({"Name":"custom","RegionID":900,"HostName":")" + host_name +
         R"(","CertName":"sha256-raw:)" + sha256_hex + R"("})";
}

}  // namespace derp::tls
