#include "tests/support/pebble.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "relay/tls/test_ca.h"
#include "tests/support/child_process.h"
#include "tests/support/http_get.h"
#include "tests/support/text_file.h"

namespace derp::testing {
namespace {

int open_log(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  return fd;
}

// Polls `path` until it contains `text` (the process's own "I am listening" line).
void wait_for_line(const std::string& path, const std::string& text, pid_t pid,
                   const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (read_text_file(path).find(text) != std::string::npos) return;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      throw std::runtime_error(what + " exited at start:\n" + read_text_file(path));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error(what + " did not start within 20 s:\n" + read_text_file(path));
}

}  // namespace

Pebble::Pebble(std::string dir, PebbleOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  auto pki = tls::write_test_pki(dir_ + "/pebble-api", {"127.0.0.1", "localhost"});
  api_ca_file_ = pki.ca_cert;
  api_port_ = free_port();
  management_port_ = free_port();
  dns_port_ = free_port();
  challtestsrv_management_port_ = free_port();

  nlohmann::json pebble{
      {"listenAddress", "127.0.0.1:" + std::to_string(api_port_)},
      {"managementListenAddress", "127.0.0.1:" + std::to_string(management_port_)},
      {"certificate", pki.leaf_cert},
      {"privateKey", pki.leaf_key},
      {"httpPort", options_.http_port},
      {"tlsPort", options_.tls_port},
      {"ocspResponderURL", ""},
      {"externalAccountBindingRequired", options_.eab_required},
  };
  if (options_.validity_seconds > 0)
    pebble["certificateValidityPeriod"] = options_.validity_seconds;
  if (!options_.eab_keys.empty()) {
    nlohmann::json keys = nlohmann::json::object();
    for (const auto& [kid, key] : options_.eab_keys) keys[kid] = key;
    pebble["externalAccountMACKeys"] = keys;
  }
  std::ofstream(dir_ + "/pebble-config.json") << nlohmann::json{{"pebble", pebble}}.dump(2);
}

Pebble::~Pebble() {
  stop();
}

void Pebble::start() {
  ++runs_;
  const std::string run = std::to_string(runs_);
  const std::string dns_log = dir_ + "/challtestsrv-" + run + ".log";
  int dns_fd = open_log(dns_log);
  const std::string dns_addr = "127.0.0.1:" + std::to_string(dns_port_);
  dns_ = spawn_child("/usr/bin/pebble-challtestsrv",
                     {"-dns01", dns_addr, "-http01", "", "-https01", "", "-tlsalpn01", "",
                      "-management", "127.0.0.1:" + std::to_string(challtestsrv_management_port_),
                      "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""},
                     dns_fd, dns_fd);
  ::close(dns_fd);
  wait_for_line(dns_log, "DNS-01 challenge server on", dns_, "pebble-challtestsrv");

  const std::string log = dir_ + "/pebble-" + run + ".log";
  int fd = open_log(log);
  const int reject = options_.nonce_reject_percent;
  pebble_ = spawn_child("/usr/bin/pebble",
                        {"-config", dir_ + "/pebble-config.json", "-dnsserver", dns_addr}, fd, fd,
                        [reject] {
                          ::setenv("PEBBLE_VA_NOSLEEP", "1", 1);
                          ::setenv("PEBBLE_WFE_NONCEREJECT", std::to_string(reject).c_str(), 1);
                          ::setenv("PEBBLE_AUTHZREUSE", "0", 1);
                        });
  ::close(fd);
  wait_for_line(log, "Listening on: 127.0.0.1:" + std::to_string(api_port_), pebble_, "pebble");
}

void Pebble::stop() {
  stop_child(pebble_, SIGTERM, std::chrono::seconds(5));
  stop_child(dns_, SIGTERM, std::chrono::seconds(5));
}

std::string Pebble::directory_url() const {
  return "https://127.0.0.1:" + std::to_string(api_port_) + "/dir";
}

std::string Pebble::issuing_root_file() const {
  const std::string out = dir_ + "/issuing-root-" + std::to_string(runs_) + ".pem";
  pid_t curl = spawn_child("/usr/bin/curl",
                           {"-sS", "--fail", "--cacert", api_ca_file_, "-o", out,
                            "https://127.0.0.1:" + std::to_string(management_port_) + "/roots/0"},
                           -1, -1);
  int status = 0;
  ::waitpid(curl, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("cannot fetch pebble's issuing root");
  }
  return out;
}

int Pebble::orders() const {
  return static_cast<int>(count_occurrences(log(), "Added order"));
}

std::string Pebble::log() const {
  return read_text_file(dir_ + "/pebble-" + std::to_string(runs_) + ".log");
}

}  // namespace derp::testing
