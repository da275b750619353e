#include "relay/tls/server_context.h"

#include <sys/stat.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <strings.h>
#include <algorithm>
#include <boost/asio/ssl/context.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "relay/files/atomic_file.h"
#include "relay/logging/event.h"
#include "relay/logging/printable.h"
#include "relay/tls/acme_challenge.h"
#include "relay/tls/cert_builder.h"
#include "relay/tls/cert_fields.h"
#include "relay/tls/ip_cert.h"
#include "relay/tls/meta_cert.h"
#include "relay/tls/pem_files.h"
#include "relay/tls/tls_error.h"

namespace derp::tls {
namespace {

namespace ssl = boost::asio::ssl;

constexpr auto kMetaCertMaxAge = std::chrono::hours(24);
constexpr std::int64_t kExpiryWarning = 7LL * 24 * 60 * 60;  // derpprobe's threshold (§10)

// A context together with what its callbacks read: the aliasing shared_ptr handed out keeps
// both alive for as long as any connection uses the context.
struct ServerContext {
  ssl::context ctx{ssl::context::tls_server};
  std::string required_sni;  // "" means no SNI check (IP hostname)
  // ACME modes: the pending TLS-ALPN-01 answers, and whether a real certificate is served yet
  // (until the first one is issued the context holds a placeholder that no client is shown).
  AcmeChallengeLookup acme_challenges;
  bool has_certificate = true;
  std::shared_ptr<IpCertTable> ip_certs;  // --acme-ip-certs beside a DNS hostname
};

// Runs before SNI and ALPN are looked at: a TLS-ALPN-01 validation gets its challenge certificate
// here, and while an ACME node has no certificate yet every other handshake is refused.
int on_client_hello(SSL* s, int* alert, void* arg) {
  const auto* sc = static_cast<const ServerContext*>(arg);
  if (sc->acme_challenges) {
    bool refuse = false;
    if (take_acme_challenge(s, sc->acme_challenges, refuse)) return SSL_CLIENT_HELLO_SUCCESS;
    if (refuse) {
      spdlog::debug("tls: refusing an acme-tls/1 handshake: no TLS-ALPN-01 challenge is pending");
      *alert = SSL_AD_UNRECOGNIZED_NAME;
      return SSL_CLIENT_HELLO_ERROR;
    }
  }
  if (sc->ip_certs && sc->ip_certs->serve(s)) return SSL_CLIENT_HELLO_SUCCESS;
  if (!sc->has_certificate) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

// derper rejects a ClientHello whose SNI differs from -hostname unless -hostname is an IP
// (protocol §1.2). We compare case-insensitively and ignore one trailing dot, since DNS names are
// case-insensitive. A ClientHello without SNI is accepted: it gets the same certificate anyway.
// (derper also rejects a missing SNI for a DNS hostname; no Tailscale client sends none.)
int check_sni(SSL* s, int* alert, void* arg) {
  const auto* sc = static_cast<const ServerContext*>(arg);
  if (sc->required_sni.empty() || is_acme_challenge(s) || IpCertTable::served(s)) {
    return SSL_TLSEXT_ERR_OK;
  }
  const char* name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_OK;
  std::string_view sni(name);
  if (sni.ends_with('.')) sni.remove_suffix(1);
  if (sni.size() == sc->required_sni.size() &&
      strncasecmp(sni.data(), sc->required_sni.data(), sni.size()) == 0) {
    return SSL_TLSEXT_ERR_OK;
  }
  spdlog::debug("tls: rejecting handshake with SNI \"{}\" (serving \"{}\")",
                logging::printable(name, 64), sc->required_sni);
  *alert = SSL_AD_UNRECOGNIZED_NAME;
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// DERP and WebSocket-DERP need an HTTP/1.1 Upgrade: select http/1.1 when offered and never h2.
// A client offering neither gets no ALPN answer rather than a failed handshake. A TLS-ALPN-01
// validation must get acme-tls/1 (RFC 8737 §3).
int select_alpn(SSL* s, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  static const unsigned char kAcme[] = {10, 'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};
  const bool acme = is_acme_challenge(s);
  unsigned char* selected = nullptr;
  unsigned char selected_len = 0;
  if (inlen == 0 || SSL_select_next_proto(&selected, &selected_len, acme ? kAcme : kHttp11,
                                          acme ? sizeof(kAcme) : sizeof(kHttp11), in,
                                          inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  *outlen = selected_len;
  return SSL_TLSEXT_ERR_OK;
}

std::shared_ptr<ssl::context> build_context(const std::vector<X509Ptr>& chain, EVP_PKEY* key,
                                            X509* meta_cert, const std::string& required_sni,
                                            const std::string& cert_path,
                                            const AcmeChallengeLookup& acme_challenges,
                                            bool has_certificate,
                                            std::shared_ptr<IpCertTable> ip_certs) {
  auto sc = std::make_shared<ServerContext>();
  sc->required_sni = required_sni;
  sc->acme_challenges = acme_challenges;
  sc->has_certificate = has_certificate;
  sc->ip_certs = std::move(ip_certs);
  SSL_CTX* ctx = sc->ctx.native_handle();
  auto fail = [&](std::string_view what) {
    return TlsError(openssl_error("tls: " + cert_path + ": " + std::string(what)));
  };

  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, 0) != 1) {
    throw fail("setting protocol versions");
  }
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // TLS 1.2 suites: forward-secret AEAD and CBC suites only, as Go's defaults.
  if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES") != 1) {
    throw fail("setting TLS 1.2 cipher list");
  }
  // Idle DERP connections are the common case; don't pin 2 × 16 KiB buffers to each of them.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_sess_set_cache_size(ctx, 20000);
  SSL_CTX_set_timeout(ctx, 2 * 60 * 60);
  static const unsigned char kSessionContext[] = "derpd";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);

  if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1) throw fail("using certificate");
  if (SSL_CTX_use_PrivateKey(ctx, key) != 1) throw fail("using private key");
  if (SSL_CTX_check_private_key(ctx) != 1) throw fail("private key does not match certificate");
  // An explicit chain is sent verbatim, in order: the intermediates, then the meta cert, which
  // does not chain and would be dropped by automatic chain building.
  for (std::size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1) throw fail("adding chain certificate");
  }
  if (SSL_CTX_add1_chain_cert(ctx, meta_cert) != 1) throw fail("adding meta certificate");

  SSL_CTX_set_tlsext_servername_callback(ctx, check_sni);
  SSL_CTX_set_tlsext_servername_arg(ctx, sc.get());
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  // Manual mode has nothing to choose per handshake: no callback on its handshakes.
  if (sc->acme_challenges || sc->ip_certs || !sc->has_certificate) {
    SSL_CTX_set_client_hello_cb(ctx, on_client_hello, sc.get());
  }
  return std::shared_ptr<ssl::context>(sc, &sc->ctx);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out.empty() ? "none" : out;
}

std::string chain_pem(const std::vector<X509Ptr>& chain) {
  std::string pem;
  for (const auto& cert : chain) pem += cert_to_pem(cert.get());
  return pem;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

struct CertStore::Loaded {
  std::vector<X509Ptr> chain;
  EvpPkeyPtr key;
  CertInfo info;
};

CertStore::CertStore(ServerTlsConfig config, const protocol::NodePublic& server_key)
    : config_(std::move(config)),
      hostname_(parse_tls_hostname(config_.hostname)),
      server_key_(server_key) {
  acme_ = config_.certmode == "letsencrypt" || config_.certmode == "gcp";
  if (!acme_ && config_.certmode != "manual") {
    throw TlsError("tls: unknown certmode \"" + config_.certmode +
                   "\"; use manual, letsencrypt or gcp");
  }
  if (hostname_.host.empty()) throw TlsError("tls: -hostname is empty; it is needed for TLS");
  if (config_.certdir.empty()) throw TlsError("tls: -certdir is empty");
  // ACME names an IP certificate's files with ':' turned into '.' (protocol §9.2).
  std::string stem = hostname_.host;
  if (acme_ && hostname_.is_ip) std::replace(stem.begin(), stem.end(), ':', '.');
  stem = cert_file_stem(stem);
  std::string dir = config_.certdir;
  if (!dir.ends_with('/')) dir += '/';
  dir_ = dir;
  cert_path_ = dir + stem + ".crt";
  key_path_ = dir + stem + ".key";
  if (acme_) {
    if (config_.acme_ip_certs && !hostname_.is_ip) ip_certs_ = std::make_shared<IpCertTable>();
    start_acme(dir);
    return;
  }

  bool have_cert = file_exists(cert_path_);
  bool have_key = file_exists(key_path_);
  if (hostname_.is_ip && !have_cert && !have_key) {
    GeneratedIpCert gen = write_self_signed_ip_cert(cert_path_, key_path_, hostname_.host);
    generated_node_json_ = gen.node_json;
    spdlog::info("tls: wrote self-signed certificate {} for IP {}; add this node to your DERP map:",
                 cert_path_, hostname_.host);
    spdlog::info("{}", generated_node_json_);
  } else if (have_cert != have_key) {
    throw TlsError("tls: found " + (have_cert ? cert_path_ : key_path_) + " but not " +
                   (have_cert ? key_path_ : cert_path_) + "; provide both files" +
                   (hostname_.is_ip ? " or remove both to get a self-signed certificate" : ""));
  }

  std::string error;
  FileStamps stamps = stat_files(error);
  install(load(), stamps);
}

void CertStore::start_acme(const std::string& dir) {
  // derper's autocert keeps key and chain in one file named after the host: take it over once,
  // so that switching from derper does not cost a new certificate.
  const std::string derper_file = dir + hostname_.host;
  if (!file_exists(cert_path_) && !file_exists(key_path_) && file_exists(derper_file)) {
    try {
      std::lock_guard reload_lock(reload_mu_);
      auto chain = read_cert_chain_file(derper_file);
      auto key = read_private_key_file(derper_file);
      auto loaded = check(std::move(chain), std::move(key), derper_file);
      write_files(private_key_to_pem(loaded->key.get()), chain_pem(loaded->chain));
      spdlog::info("tls: took over derper's certificate {} as {}", derper_file, cert_path_);
    } catch (const std::exception& e) {
      spdlog::warn("tls: not taking over derper's certificate {}: {}", derper_file, e.what());
    }
  }
  if (file_exists(cert_path_) && file_exists(key_path_)) {
    try {
      std::string error;
      FileStamps stamps = stat_files(error);
      install(load(), stamps);
      return;
    } catch (const TlsError& e) {
      logging::log_event(spdlog::level::warn, "cert_unusable", {{"file", cert_path_}},
                         "tls: cannot use the stored certificate ({}); obtaining a new one",
                         e.what());
    }
  }
  install_placeholder();
}

void CertStore::install_placeholder() {
  EvpPkeyPtr key = generate_p256_key();
  CertSpec spec;
  spec.common_name = "derpd placeholder";
  spec.lifetime_seconds = 24 * 60 * 60;
  std::vector<X509Ptr> chain;
  chain.push_back(issue_cert(spec, key.get()));
  X509Ptr meta = make_meta_cert(server_key_);
  auto ctx = build_context(chain, key.get(), meta.get(), required_sni(), cert_path_,
                           config_.acme_challenges, /*has_certificate=*/false, ip_certs_);
  if (ip_certs_) ip_certs_->set_meta_cert(meta.get());
  spdlog::info("tls: no certificate for {} yet; TLS handshakes are refused until ACME issues one",
               hostname_.host);
  std::lock_guard lock(mu_);
  context_ = std::move(ctx);
  meta_created_ = std::chrono::steady_clock::now();
}

CertStore::~CertStore() = default;

CertStore::FileStamps CertStore::stat_files(std::string& error) const {
  FileStamps f;
  struct stat c, k;
  if (::stat(cert_path_.c_str(), &c) != 0) {
    error = "tls: cannot stat " + cert_path_ + ": " + std::strerror(errno);
    return f;
  }
  if (::stat(key_path_.c_str(), &k) != 0) {
    error = "tls: cannot stat " + key_path_ + ": " + std::strerror(errno);
    return f;
  }
  f.ok = true;
  f.dev = c.st_dev, f.ino = c.st_ino, f.size = static_cast<std::uint64_t>(c.st_size);
  f.mtime_ns = std::int64_t{c.st_mtim.tv_sec} * 1'000'000'000 + c.st_mtim.tv_nsec;
  f.key_dev = k.st_dev, f.key_ino = k.st_ino, f.key_size = static_cast<std::uint64_t>(k.st_size);
  f.key_mtime_ns = std::int64_t{k.st_mtim.tv_sec} * 1'000'000'000 + k.st_mtim.tv_nsec;
  return f;
}

std::shared_ptr<CertStore::Loaded> CertStore::load() const {
  auto chain = read_cert_chain_file(cert_path_);  // first: its errors are the likelier ones
  return check(std::move(chain), read_private_key_file(key_path_), cert_path_);
}

std::shared_ptr<CertStore::Loaded> CertStore::check(std::vector<X509Ptr> chain, EvpPkeyPtr key,
                                                    const std::string& source) const {
  return check_for(hostname_, std::move(chain), std::move(key), source, cert_path_);
}

std::shared_ptr<CertStore::Loaded> CertStore::check_for(const TlsHostname& name,
                                                        std::vector<X509Ptr> chain, EvpPkeyPtr key,
                                                        const std::string& source,
                                                        const std::string& path) const {
  auto loaded = std::make_shared<Loaded>();
  loaded->chain = std::move(chain);
  loaded->key = std::move(key);
  X509* leaf = loaded->chain.front().get();
  if (X509_check_private_key(leaf, loaded->key.get()) != 1) {
    throw TlsError(
        openssl_error("tls: the private key does not match the first certificate of " + source));
  }

  const std::string& host = name.host;
  bool valid = name.is_ip ? X509_check_ip_asc(leaf, host.c_str(), 0) == 1
                          // Like Go's VerifyHostname: SANs only, the subject CN is never consulted.
                          : X509_check_host(leaf, host.data(), host.size(),
                                            X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr) == 1;
  auto sans = subject_alt_names(leaf);
  if (!valid) {
    throw TlsError("tls: certificate " + source + " is not valid for hostname " + host +
                   " (SANs: " + join(sans) + ")");
  }

  loaded->info.path = path;
  loaded->info.subject = subject_text(leaf);
  loaded->info.issuer = issuer_text(leaf);
  loaded->info.sans = std::move(sans);
  loaded->info.not_before = not_before_unix(leaf);
  loaded->info.not_after = not_after_unix(leaf);
  loaded->info.sha256_hex = der_sha256_hex(leaf);

  // ACME renews by itself (and short-lived certificates always have less than 7 days left).
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  if (loaded->info.not_after < now) {
    logging::log_event(spdlog::level::err, "cert_expired",
                       {{"file", path}, {"not_after", std::to_string(loaded->info.not_after)}},
                       "tls: certificate {} expired at unix time {}; clients will refuse it", path,
                       loaded->info.not_after);
  } else if (!acme_ && loaded->info.not_after - now < kExpiryWarning) {
    logging::log_event(spdlog::level::warn, "cert_expiring",
                       {{"file", path}, {"not_after", std::to_string(loaded->info.not_after)}},
                       "tls: certificate {} expires in less than 7 days (unix time {})", path,
                       loaded->info.not_after);
  }
  return loaded;
}

std::string CertStore::ip_file_stem(const std::string& ip) const {
  std::string stem = ip;
  std::replace(stem.begin(), stem.end(), ':', '.');
  return dir_ + cert_file_stem(stem);
}

void CertStore::serve_ip(const std::string& ip, std::shared_ptr<Loaded> loaded) {
  std::vector<X509Ptr> chain;
  for (const auto& c : loaded->chain) chain.push_back(share_x509(c.get()));
  ip_certs_->install(ip, std::move(chain), EvpPkeyPtr(EVP_PKEY_dup(loaded->key.get())));
  logging::log_event(spdlog::level::info, "cert_loaded",
                     {{"file", loaded->info.path},
                      {"subject", loaded->info.subject},
                      {"not_after", std::to_string(loaded->info.not_after)}},
                     "tls: serving {} to handshakes on {} without a name (sha256 {})",
                     loaded->info.path, ip, loaded->info.sha256_hex);
  std::lock_guard lock(mu_);
  ip_info_[ip] = loaded->info;
}

void CertStore::install_issued_ip(const std::string& ip, const std::string& chain_text,
                                  const std::string& key_text) {
  if (!ip_certs_) throw TlsError("tls: this node serves no IP certificates");
  const std::string stem = ip_file_stem(ip);
  auto chain = read_cert_chain_pem(chain_text, "the issued certificate");
  auto loaded = check_for(TlsHostname{ip, true}, std::move(chain),
                          read_private_key_pem(key_text, "the issued key"),
                          "the issued certificate", stem + ".crt");
  files::write_file_atomically(stem + ".key", key_text, 0600);
  files::write_file_atomically(stem + ".crt", chain_text, 0644);
  serve_ip(ip, std::move(loaded));
}

bool CertStore::load_stored_ip(const std::string& ip) {
  const std::string stem = ip_file_stem(ip);
  if (!ip_certs_ || !file_exists(stem + ".crt") || !file_exists(stem + ".key")) return false;
  try {
    auto chain = read_cert_chain_file(stem + ".crt");
    serve_ip(ip, check_for(TlsHostname{ip, true}, std::move(chain),
                           read_private_key_file(stem + ".key"), stem + ".crt", stem + ".crt"));
    return true;
  } catch (const TlsError& e) {
    spdlog::warn("tls: cannot use the stored certificate for {} ({}); obtaining a new one", ip,
                 e.what());
    return false;
  }
}

std::vector<std::pair<std::string, CertInfo>> CertStore::ip_cert_infos() const {
  std::lock_guard lock(mu_);
  return {ip_info_.begin(), ip_info_.end()};
}

std::optional<CertInfo> CertStore::ip_cert_info(const std::string& ip) const {
  std::lock_guard lock(mu_);
  auto it = ip_info_.find(ip);
  if (it == ip_info_.end()) return std::nullopt;
  return it->second;
}

void CertStore::install(std::shared_ptr<Loaded> loaded, const FileStamps& stamps) {
  X509Ptr meta = make_meta_cert(server_key_);
  auto ctx = build_context(loaded->chain, loaded->key.get(), meta.get(), required_sni(), cert_path_,
                           config_.acme_challenges, /*has_certificate=*/true, ip_certs_);
  if (ip_certs_) ip_certs_->set_meta_cert(meta.get());
  logging::log_event(spdlog::level::info, "cert_loaded",
                     {{"file", cert_path_},
                      {"subject", loaded->info.subject},
                      {"sans", join(loaded->info.sans)},
                      {"not_after", std::to_string(loaded->info.not_after)}},
                     "tls: serving {} ({}; SANs: {}; sha256 {})", cert_path_, loaded->info.subject,
                     join(loaded->info.sans), loaded->info.sha256_hex);
  active_stamps_ = stamps;
  failed_stamps_.reset();
  std::lock_guard lock(mu_);
  loaded_ = std::move(loaded);
  context_ = std::move(ctx);
  meta_created_ = std::chrono::steady_clock::now();
}

std::shared_ptr<boost::asio::ssl::context> CertStore::current() const {
  std::lock_guard lock(mu_);
  return context_;
}

std::optional<CertInfo> CertStore::cert_info() const {
  std::lock_guard lock(mu_);
  if (!loaded_) return std::nullopt;
  return loaded_->info;
}

std::string CertStore::required_sni() const {
  std::string sni = hostname_.is_ip ? "" : hostname_.host;
  if (sni.ends_with('.')) sni.pop_back();
  return sni;
}

void CertStore::write_files(const std::string& key_pem, const std::string& chain_pem) {
  files::write_file_atomically(key_path_, key_pem, 0600);
  files::write_file_atomically(cert_path_, chain_pem, 0644);
}

void CertStore::install_issued(const std::string& chain_text, const std::string& key_text) {
  std::lock_guard reload_lock(reload_mu_);
  auto chain = read_cert_chain_pem(chain_text, "the issued certificate");
  auto loaded = check(std::move(chain), read_private_key_pem(key_text, "the issued key"),
                      "the issued certificate");
  write_files(key_text, chain_text);
  std::string error;
  FileStamps stamps = stat_files(error);
  install(std::move(loaded), stamps);
}

bool CertStore::reload_if_changed(std::string& error) {
  std::lock_guard reload_lock(reload_mu_);
  std::string stat_error;
  FileStamps stamps = stat_files(stat_error);
  bool meta_stale;
  std::shared_ptr<Loaded> current_loaded;
  {
    std::lock_guard lock(mu_);
    meta_stale = std::chrono::steady_clock::now() - meta_created_ > kMetaCertMaxAge;
    current_loaded = loaded_;
  }
  // An ACME node without its first certificate has no files to watch yet, and nothing to say.
  if (!current_loaded && acme_ && !stamps.ok) return false;
  try {
    if (stamps.ok && stamps == active_stamps_) {
      if (!meta_stale || !current_loaded) return false;
      install(current_loaded, stamps);  // same files, fresh meta cert
      return true;
    }
    if (stamps == failed_stamps_) return false;  // already reported
    if (!stamps.ok) {
      failed_stamps_ = stamps;
      error = stat_error + "; keeping the previous certificate";
      return false;
    }
    install(load(), stamps);
    return true;
  } catch (const TlsError& e) {
    failed_stamps_ = stamps;
    error = std::string(e.what()) + "; keeping the previous certificate";
    return false;
  }
}

}  // namespace derp::tls
