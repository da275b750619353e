// Runs Let's Encrypt's ACME test server, pebble (Debian package `pebble`), as a real process for
// the ACME tests, with pebble-challtestsrv as its DNS server: every name resolves to 127.0.0.1,
// so pebble's validation connects to the derpd under test. Nothing leaves the machine.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace derp::testing {

struct PebbleOptions {
  std::uint16_t tls_port = 0;      // where validation connects for TLS-ALPN-01: derpd's -a port
  std::uint16_t http_port = 0;     // for HTTP-01: derpd's --http-port
  long long validity_seconds = 0;  // certificates' lifetime; 0: pebble's default (years)
  bool eab_required = false;
  std::vector<std::pair<std::string, std::string>> eab_keys;  // key ID → base64url MAC key
  int nonce_reject_percent = 0;  // PEBBLE_WFE_NONCEREJECT (pebble's default is 5)
};

class Pebble {
 public:
  // Writes pebble's config and its API certificate (a throwaway CA) under `dir`; start() runs it.
  Pebble(std::string dir, PebbleOptions options);
  ~Pebble();
  Pebble(const Pebble&) = delete;
  Pebble& operator=(const Pebble&) = delete;

  // Starts pebble-challtestsrv and pebble and waits until pebble listens. Throws on failure.
  // May be called again after stop(): same ports, fresh state (pebble keeps nothing).
  void start();
  void stop();

  std::string directory_url() const;  // https://127.0.0.1:PORT/dir
  // The CA of pebble's HTTPS API certificate: derpd's --acme-ca-file.
  const std::string& api_ca_file() const { return api_ca_file_; }
  // Pebble's current issuing root (from its management API), written to a file for clients.
  std::string issuing_root_file() const;
  // Orders pebble created since start() (from its log).
  int orders() const;
  std::string log() const;

 private:
  std::string dir_;
  PebbleOptions options_;
  std::string api_ca_file_;
  std::uint16_t api_port_ = 0;
  std::uint16_t management_port_ = 0;
  std::uint16_t dns_port_ = 0;
  std::uint16_t challtestsrv_management_port_ = 0;
  pid_t pebble_ = -1;
  pid_t dns_ = -1;
  int runs_ = 0;
};

}  // namespace derp::testing
