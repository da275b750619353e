// Network namespaces for integration tests that need a network they can break (mesh partitions).
// Everything here needs root; tests ask netns_unavailable_reason() first and skip with its answer.
//
// A test creates its OWN namespaces (NetNamespace, deleted again by the destructor), wires them
// with `ip -n NAME ...`, and then works inside them without touching the host's network:
//  - NetNamespace::run(f) runs f on a fresh thread that entered the namespace: sockets it opens
//  live
//    there, and so does any process it forks (start_derpd_in reuses DerpdProcess that way);
//  - NetnsRunner is an io_context whose one thread lives in the namespace, for DERP clients.
#pragma once

#include "tests/support/async_runner.h"

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "tests/support/derpd_process.h"

namespace derp::testing {

// Runs a program (looked up in PATH) with `argv`, waits for it, and returns its exit status as from
// waitpid (0 on success); its stdout and stderr go to *output when given.
int run_command(const std::vector<std::string>& argv, std::string* output = nullptr);

// Why this process cannot make network namespaces ("not root", "`ip netns add` failed: …"), or
// an empty string when it can. Probes by adding and deleting a namespace of its own.
std::string netns_unavailable_reason();

// Deletes namespaces called PREFIX-<pid>-… whose <pid> no longer runs (left behind by a test that
// crashed), killing whatever still runs inside them first.
void remove_stale_namespaces(const std::string& prefix);

class NetNamespace {
 public:
  // `ip netns add NAME`; throws std::runtime_error with ip's message when that fails.
  explicit NetNamespace(std::string name);
  // Kills any process still inside (only this test's own processes can be there), then
  // `ip netns del NAME`. Interfaces inside go with the namespace.
  ~NetNamespace();
  NetNamespace(const NetNamespace&) = delete;
  NetNamespace& operator=(const NetNamespace&) = delete;

  const std::string& name() const { return name_; }
  // An open descriptor of the namespace, for setns(2).
  int fd() const { return fd_; }
  // `ip -n NAME ARGS…`; throws std::runtime_error with the command and ip's message on failure.
  void ip(const std::vector<std::string>& args) const;
  // Moves the calling thread into this namespace (throws on failure). Only for threads the caller
  // owns and discards afterwards.
  void enter_on_this_thread() const;

  // Runs f() on a new thread that entered the namespace and returns its result; exceptions pass
  // through.
  template <class F>
  std::invoke_result_t<F&> run(F&& f) const {
    using R = std::invoke_result_t<F&>;
    std::packaged_task<R()> task([this, &f]() -> R {
      enter_on_this_thread();
      return f();
    });
    auto result = task.get_future();
    std::thread t(std::move(task));
    t.join();
    return result.get();
  }

 private:
  std::string name_;
  int fd_ = -1;
};

// A derpd process whose network is `ns`: DerpdProcess forks from a thread inside the namespace, so
// the child starts there (stop it, read its log and /proc/<pid> as usual, from any thread).
std::unique_ptr<DerpdProcess> start_derpd_in(const NetNamespace& ns, std::vector<std::string> args);

// The value of an unlabelled metric on http://HOST:PORT/debug/varz, fetched from inside `ns`;
// -1 when absent or when the node does not answer.
long long varz_in(const NetNamespace& ns, const std::string& host, std::uint16_t port,
                  const std::string& name);

// Runs client coroutines on one io_context thread that lives in `ns` (its sockets are there), with
// a time limit per step, like AsyncRunner. Throws when the namespace cannot be entered.
class NetnsRunner : public AsyncRunner {
 public:
  explicit NetnsRunner(const NetNamespace& ns)
      : NetnsRunner(ns, std::make_shared<std::promise<void>>()) {}

 private:
  NetnsRunner(const NetNamespace& ns, std::shared_ptr<std::promise<void>> entered)
      : AsyncRunner([&ns, entered] {
          try {
            ns.enter_on_this_thread();
            entered->set_value();
          } catch (...) {
            entered->set_exception(std::current_exception());
          }
        }) {
    entered->get_future().get();
  }
};

}  // namespace derp::testing
