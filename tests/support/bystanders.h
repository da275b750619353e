// Two clients connected to a node for a whole test, so a test that attacks the node can check that
// nobody else was harmed: they must still relay to each other both ways.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/support/async_runner.h"
#include "tests/support/client_checks.h"
#include "tests/support/derp_test_client.h"

namespace derp::testing {

class Bystanders {
 public:
  // `ca_file`: the test CA of a TLS node.
  Bystanders(AsyncRunner& runner, const std::string& derp_url, const std::string& ca_file = "")
      : runner_(runner) {
    runner_.run([&]() -> boost::asio::awaitable<void> {
      p_ = co_await connect_client(derp_url, protocol::NodePrivate::generate(), ca_file);
      q_ = co_await connect_client(derp_url, protocol::NodePrivate::generate(), ca_file);
    }());
  }
  ~Bystanders() {
    runner_.run([&]() -> boost::asio::awaitable<void> {
      p_.reset();
      q_.reset();
      co_return;
    }());
  }
  Bystanders(const Bystanders&) = delete;
  Bystanders& operator=(const Bystanders&) = delete;

  client::DerpClient& p() { return *p_; }
  client::DerpClient& q() { return *q_; }

  void expect_unaffected() {
    runner_.run([&]() -> boost::asio::awaitable<void> {
      co_await expect_relay(*p_, *q_, seq_++);
      co_await expect_relay(*q_, *p_, seq_++);
    }());
  }

 private:
  AsyncRunner& runner_;
  std::unique_ptr<client::DerpClient> p_, q_;
  std::uint32_t seq_ = 0;
};

}  // namespace derp::testing
