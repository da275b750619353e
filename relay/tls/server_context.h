// The server's TLS contexts (protocol §1.2, §9.2): manual-mode certificate files, the meta cert
// appended to the chain, SNI and ALPN policy, and hot reload when the files change.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "relay/protocol/key.h"
#include "relay/tls/hostname.h"

namespace boost::asio::ssl {
class context;
}

namespace derp::tls {

struct ServerTlsConfig {
  std::string certmode = "manual";  // only "manual" is implemented
  std::string certdir;              // holds <name>.crt (PEM chain) and <name>.key (PEM key)
  std::string hostname;             // -hostname; see parse_tls_hostname for "host:port"
};

// What the admin API shows about the served leaf.
struct CertInfo {
  std::string path;
  std::string subject;
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

  CertInfo cert_info() const;  // thread-safe
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
  void install(std::shared_ptr<Loaded> loaded, const FileStamps& stamps);

  ServerTlsConfig config_;
  TlsHostname hostname_;
  protocol::NodePublic server_key_;
  std::string cert_path_;
  std::string key_path_;
  std::string generated_node_json_;

  std::mutex reload_mu_;  // serialises reload_if_changed
  FileStamps active_stamps_;
  std::optional<FileStamps> failed_stamps_;  // the files whose load failed last

  mutable std::mutex mu_;  // guards the members below
  std::shared_ptr<Loaded> loaded_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::chrono::steady_clock::time_point meta_created_;
};

}  // namespace derp::tls
