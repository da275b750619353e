// Runs client coroutines for a test on a background io_context thread, with a time limit, so a
// broken server fails the test instead of hanging it.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <stdexcept>
#include <thread>
#include <utility>

namespace derp::testing {

class AsyncRunner {
 public:
  // `on_thread`, if given, runs on the runner's thread before anything else (e.g. entering a
  // network namespace).
  explicit AsyncRunner(std::function<void()> on_thread = {})
      : io_(), work_(io_.get_executor()), thread_([this, on_thread = std::move(on_thread)] {
          if (on_thread) on_thread();
          io_.run();
        }) {}
  ~AsyncRunner() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  boost::asio::io_context& io() { return io_; }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }

  template <class T>
  T run(boost::asio::awaitable<T> task,
        std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto future = boost::asio::co_spawn(io_, std::move(task), boost::asio::use_future);
    if (future.wait_for(limit) != std::future_status::ready) {
      throw std::runtime_error("test step did not finish in time");
    }
    return future.get();
  }
  template <class T>
  std::future<T> spawn(boost::asio::awaitable<T> task) {
    return boost::asio::co_spawn(io_, std::move(task), boost::asio::use_future);
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace derp::testing
