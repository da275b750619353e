// The server's TLS contexts (protocol §1.2, §9.2): manual-mode certificate files, the meta cert
// appended to the chain, SNI and ALPN policy, and hot reload when the files change.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "relay/protocol/key.h"
#include "relay/tls/acme_challenge.h"
#include "relay/tls/hostname.h"
#include "relay/tls/ip_cert_table.h"
#include "relay/tls/openssl_ptr.h"

namespace boost::asio::ssl {
class context;
}

namespace derp::tls {

struct ServerTlsConfig {
  // manual: the operator's files. letsencrypt, gcp: ACME (relay/acme) obtains them, through
  // install_issued, into the same files.
  std::string certmode = "manual";
  std::string certdir;   // holds <name>.crt (PEM chain) and <name>.key (PEM key)
  std::string hostname;  // -hostname; see parse_tls_hostname for "host:port"
  // ACME modes: the TLS-ALPN-01 answers pending (relay/acme/challenge_book.h).
  AcmeChallengeLookup acme_challenges;
  // letsencrypt with a DNS hostname: also serve certificates for the node's own IP addresses
  // (ip_cert_table.h). With an IP hostname the hostname's certificate is that certificate.
  bool acme_ip_certs = false;
};

// What the admin API shows about the served leaf.
struct CertInfo {
  std::string path;
  std::string subject;
  std::string issuer;
  std::vector<std::string> sans;  // "DNS:name" / "IP:addr"
  std::int64_t not_before = 0;    // Unix seconds
  std::int64_t not_after = 0;
  std::string sha256_hex;  // of the DER leaf; what CertName "sha256-raw:" pins
};

// Owns the server's current TLS context. Connections take current() when they are accepted and
// keep that context for their lifetime, so a reload never disturbs them.
class CertStore {
 public:
  // Loads <certdir>/<name>.crt and .key, where name is the hostname with every character outside
  // [A-Za-z0-9.-] removed. When the hostname is an IP and both files are missing, writes a
  // self-signed certificate first (see generated_node_json). Throws TlsError with operator text,
  // e.g. when the leaf is not valid for the hostname.
  // In the ACME modes missing or unusable files are not an error: until install_issued() brings
  // the first certificate, TLS-ALPN-01 validations are answered and every other handshake is
  // refused. derper's autocert file <certdir>/<hostname> is taken over when ours are missing.
  CertStore(ServerTlsConfig config, const protocol::NodePublic& server_key);
  ~CertStore();
  CertStore(const CertStore&) = delete;
  CertStore& operator=(const CertStore&) = delete;

  // Thread-safe.
  std::shared_ptr<boost::asio::ssl::context> current() const;

  // Rebuilds the context when the certificate or key file changed (inode, size or mtime), or when
  // the meta cert is older than a day. Returns true when a new context was swapped in. On a
  // failure the old context stays, `error` gets the reason and false is returned; the same broken
  // files are not reported twice. Safe to call from a timer on any thread.
  bool reload_if_changed(std::string& error);

  // Thread-safe. nullopt while an ACME node has no certificate yet.
  std::optional<CertInfo> cert_info() const;
  bool acme() const { return acme_; }

  // ACME: serves a newly issued chain (leaf first) and key to new handshakes and stores them in
  // the certificate files (key 0600). Throws TlsError when they do not fit together or do not
  // cover the hostname (nothing is changed then), std::runtime_error when a file cannot be
  // written. Thread-safe.
  void install_issued(const std::string& chain_pem, const std::string& key_pem);

  // --acme-ip-certs beside a DNS hostname; null otherwise.
  IpCertTable* ip_certs() const { return ip_certs_.get(); }
  // The same for one of the node's IP addresses: <certdir>/<ip, ':' as '.'>.crt and .key.
  void install_issued_ip(const std::string& ip, const std::string& chain_pem,
                         const std::string& key_pem);
  // Serves the stored certificate of `ip` if its files exist and fit it. False otherwise.
  bool load_stored_ip(const std::string& ip);
  std::optional<CertInfo> ip_cert_info(const std::string& ip) const;    // thread-safe
  std::vector<std::pair<std::string, CertInfo>> ip_cert_infos() const;  // thread-safe
  const std::string& cert_path() const { return cert_path_; }
  const std::string& key_path() const { return key_path_; }
  const TlsHostname& hostname() const { return hostname_; }
  // The DERP node JSON line when startup generated a self-signed IP certificate, else "".
  const std::string& generated_node_json() const { return generated_node_json_; }

 private:
  struct Loaded;
  struct FileStamps {
    bool ok = false;
    std::uint64_t dev = 0, ino = 0, size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t key_dev = 0, key_ino = 0, key_size = 0;
    std::int64_t key_mtime_ns = 0;
    friend bool operator==(const FileStamps&, const FileStamps&) = default;
  };

  FileStamps stat_files(std::string& error) const;
  std::shared_ptr<Loaded> load() const;  // throws TlsError
  std::shared_ptr<Loaded> check(std::vector<X509Ptr> chain, EvpPkeyPtr key,
                                const std::string& source) const;
  std::shared_ptr<Loaded> check_for(const TlsHostname& name, std::vector<X509Ptr> chain,
                                    EvpPkeyPtr key, const std::string& source,
                                    const std::string& path) const;
  void serve_ip(const std::string& ip, std::shared_ptr<Loaded> loaded);
  std::string ip_file_stem(const std::string& ip) const;
  void start_acme(const std::string& dir);
  void install_placeholder();
  void write_files(const std::string& key_pem, const std::string& chain_pem);
  std::string required_sni() const;
  void install(std::shared_ptr<Loaded> loaded, const FileStamps& stamps);

  ServerTlsConfig config_;
  bool acme_ = false;
  TlsHostname hostname_;
  protocol::NodePublic server_key_;
  std::string dir_;  // certdir with a trailing '/'
  std::string cert_path_;
  std::string key_path_;
  std::string generated_node_json_;

  std::mutex reload_mu_;  // serialises reload_if_changed
  FileStamps active_stamps_;
  std::optional<FileStamps> failed_stamps_;  // the files whose load failed last

  mutable std::mutex mu_;  // guards the members below
  std::shared_ptr<Loaded> loaded_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::shared_ptr<IpCertTable> ip_certs_;
  std::map<std::string, CertInfo> ip_info_;
  std::chrono::steady_clock::time_point meta_created_;
};

}  // namespace derp::tls
