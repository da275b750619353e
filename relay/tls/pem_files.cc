#include "relay/tls/pem_files.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "relay/tls/tls_error.h"

namespace derp::tls {
namespace {

std::string read_whole_file(const std::string& path, std::string_view kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw TlsError("tls: cannot read " + std::string(kind) + " file " + path + ": " +
                   std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

std::vector<X509Ptr> read_cert_chain_file(const std::string& path) {
  return read_cert_chain_pem(read_whole_file(path, "certificate"), "certificate file " + path);
}

std::vector<X509Ptr> read_cert_chain_pem(std::string_view pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<X509Ptr> chain;
  ERR_clear_error();
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    chain.emplace_back(cert);
  }
  // Reaching the end of the data is reported as "no start line"; anything else is corruption.
  unsigned long err = ERR_peek_last_error();
  if (err != 0 &&
      !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
    throw TlsError(openssl_error("tls: " + what + " is not valid PEM"));
  }
  ERR_clear_error();
  if (chain.empty()) {
    throw TlsError("tls: " + what +
                   " holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\")");
  }
  return chain;
}

EvpPkeyPtr read_private_key_file(const std::string& path) {
  return read_private_key_pem(read_whole_file(path, "private key"), "private key file " + path);
}

EvpPkeyPtr read_private_key_pem(std::string_view pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ERR_clear_error();
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    throw TlsError(openssl_error("tls: " + what + " holds no unencrypted PEM private key"));
  }
  return key;
}

std::string cert_to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bio_text(bio.get());
}

std::string private_key_to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_text(bio.get());
}

}  // namespace derp::tls
