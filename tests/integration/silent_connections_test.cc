// What a connection that says nothing costs the node before any authentication, on plain HTTP and
// on TLS. Measured with 400 connections: TLS without a ClientHello cost 46.8 KB each while the TLS
// state and its buffers were set up at accept, plain 8.2 KB (the header buffer); both ~2.3 KB now
// that nothing is set up before the first byte. The bystander pair relays throughout.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "relay/tls/test_ca.h"
#include "tests/support/async_runner.h"
#include "tests/support/build_kind.h"
#include "tests/support/bystanders.h"
#include "tests/support/derpd_process.h"
#include "tests/support/proc_status.h"
#include "tests/support/raw_socket.h"
#include "tests/support/wait.h"

namespace derp::testing {
namespace {

constexpr int kSilent = 400;
// Under ASan every allocation carries redzones: 5.4 KB plain and 4.9 KB TLS were seen there (the
// TLS state set up at accept cost 46.8 KB without a sanitizer).
constexpr long long kBoundPerConnection = kSanitizerBuild ? 12 * 1024 : 4 * 1024;

// Opens kSilent connections that send nothing, waits until the node has accepted them all, and
// returns the node's RSS growth per connection.
long long rss_per_silent_connection(DerpdProcess& derpd, Bystanders& bystanders) {
  const long long before = rss_bytes(derpd.pid());
  const int fds_before = open_descriptors(derpd.pid());
  std::vector<std::unique_ptr<RawSocket>> silent;
  for (int i = 0; i < kSilent; ++i) silent.push_back(std::make_unique<RawSocket>(derpd.port()));
  // Accepted: each is a descriptor of the node's.
  EXPECT_TRUE(eventually([&] { return open_descriptors(derpd.pid()) >= fds_before + kSilent; }));
  // The node has one worker: once the bystanders relay again, it has also run everything queued
  // before, i.e. set up every silent connection it accepted.
  bystanders.expect_unaffected();
  const long long held = rss_bytes(derpd.pid());
  return (held - before) / kSilent;
}

TEST(SilentConnections, PlainCostsAFewKilobytesEach) {
  AsyncRunner runner;
  TempDir dir;
  DerpdProcess derpd(
      {"-a", "127.0.0.1:0", "--stun=false", "--workers", "1", "-c", dir.path() + "/key"});
  Bystanders bystanders(runner, derpd.derp_url());
  const long long per = rss_per_silent_connection(derpd, bystanders);
  std::cout << "silent plain connection: +" << per << " bytes RSS each\n";
  EXPECT_LT(per, kBoundPerConnection);
  bystanders.expect_unaffected();
}

TEST(SilentConnections, TlsWithoutClientHelloCostsNoMoreThanPlain) {
  AsyncRunner runner;
  TempDir dir;
  const auto pki = tls::write_test_pki(dir.path(), {"127.0.0.1"});
  DerpdProcess derpd({"-a", "127.0.0.1:0", "--stun=false", "--workers", "1", "-c",
                      dir.path() + "/key", "--certmode", "manual", "--hostname", "127.0.0.1",
                      "--certdir", dir.path(), "--http-port", "-1"});
  Bystanders bystanders(runner, derpd.derp_url(), pki.ca_cert);
  const long long per = rss_per_silent_connection(derpd, bystanders);
  std::cout << "silent TLS connection (no ClientHello): +" << per << " bytes RSS each\n";
  EXPECT_LT(per, kBoundPerConnection);
  bystanders.expect_unaffected();
}

}  // namespace
}  // namespace derp::testing
