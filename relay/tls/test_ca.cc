#include "relay/tls/test_ca.h"

#include <filesystem>
#include <system_error>

#include "relay/files/atomic_file.h"
#include "relay/tls/cert_builder.h"
#include "relay/tls/hostname.h"
#include "relay/tls/pem_files.h"
#include "relay/tls/tls_error.h"

namespace derp::tls {

TestPki write_test_pki(const std::string& dir, const std::vector<std::string>& names,
                       long long leaf_lifetime_seconds) {
  if (names.empty()) throw TlsError("tls: write_test_pki needs at least one name");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw TlsError("tls: cannot create " + dir + ": " + ec.message());

  CertSpec ca_spec;
  ca_spec.common_name = "derpd test CA";
  ca_spec.not_before_offset_seconds = -3600;
  ca_spec.lifetime_seconds = 10LL * 365 * 24 * 60 * 60;
  ca_spec.is_ca = true;
  ca_spec.key_identifiers = true;
  ca_spec.key_usage = "critical,keyCertSign,cRLSign";
  EvpPkeyPtr ca_key = generate_p256_key();
  X509Ptr ca = issue_cert(ca_spec, ca_key.get());

  CertSpec leaf_spec;
  leaf_spec.common_name = names.front();
  for (const auto& n : names) {
    (is_ip_literal(n) ? leaf_spec.ip_addresses : leaf_spec.dns_names).push_back(n);
  }
  leaf_spec.not_before_offset_seconds = -3600;
  leaf_spec.lifetime_seconds = leaf_lifetime_seconds + 3600;
  leaf_spec.key_identifiers = true;
  leaf_spec.key_usage = "critical,digitalSignature";
  leaf_spec.ext_key_usage = "serverAuth";
  EvpPkeyPtr leaf_key = generate_p256_key();
  X509Ptr leaf = issue_cert(leaf_spec, leaf_key.get(), ca.get(), ca_key.get());

  std::string base = dir;
  if (!base.ends_with('/')) base += '/';
  std::string stem = cert_file_stem(names.front());
  TestPki pki{base + "ca.pem", base + "ca.key", base + stem + ".crt", base + stem + ".key"};
  files::write_file_atomically(pki.ca_cert, cert_to_pem(ca.get()), 0644);
  files::write_file_atomically(pki.ca_key, private_key_to_pem(ca_key.get()), 0600);
  files::write_file_atomically(pki.leaf_key, private_key_to_pem(leaf_key.get()), 0600);
  files::write_file_atomically(pki.leaf_cert, cert_to_pem(leaf.get()), 0644);
  return pki;
}

}  // namespace derp::tls
