#include "derpctl/probe/probe_runner.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>

namespace derpctl::probe {

namespace asio = boost::asio;

namespace {

asio::awaitable<ProbeOutcome> dispatch(Executor ex, const ProbeSpec& spec, const ProbeOptions& o,
                                       ProbeContext& ctx) {
  switch (spec.cls) {
    case ProbeClass::kTls:
      return probe_tls(ex, spec, o, ctx);
    case ProbeClass::kUdp:
      return probe_stun(ex, spec, o, ctx);
    case ProbeClass::kMesh:
      return probe_mesh(ex, spec, o, ctx);
    case ProbeClass::kBandwidth:
      return probe_bandwidth(ex, spec, o, ctx);
    case ProbeClass::kQueueDelay:
      return probe_queue_delay(ex, spec, o, ctx);
    case ProbeClass::kDerpMap:
      break;
  }
  throw std::logic_error("the DERP map probe is run by the map loader");
}

std::string seconds_text(std::chrono::milliseconds d) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return text;
}

}  // namespace

asio::awaitable<ProbeReport> run_probe(Executor ex, ProbeSpec spec, ProbeOptions o) {
  ProbeReport report{std::move(spec), {}, std::chrono::system_clock::now(), {}};
  const auto started = std::chrono::steady_clock::now();
  auto ctx = std::make_shared<ProbeContext>(started + o.timeout);
  auto deadline = std::make_shared<asio::steady_timer>(ex, ctx->deadline());
  deadline->async_wait([ctx](boost::system::error_code ec) {
    if (!ec) ctx->expire();
  });
  std::string failure;
  bool finished = false;
  try {
    report.outcome = co_await dispatch(ex, report.spec, o, *ctx);
    finished = true;
  } catch (const std::exception& e) {
    failure = e.what();
  }
  deadline->cancel();
  if (!finished) {
    report.outcome = {};
    report.outcome.reason =
        ctx->timed_out() ? "timed out after " + seconds_text(o.timeout) + " while " + ctx->step()
                         : failure;
  }
  const auto took = std::chrono::steady_clock::now() - started;
  if (report.outcome.latency_ms == 0) {
    report.outcome.latency_ms = std::chrono::duration<double, std::milli>(took).count();
  }
  report.end = std::chrono::system_clock::now();
  co_return report;
}

asio::awaitable<std::vector<ProbeReport>> run_round(Executor ex, std::vector<ProbeSpec> specs,
                                                    ProbeOptions o) {
  struct Gather {
    explicit Gather(Executor ex, std::size_t n) : reports(n), left(n), all_done(ex) {}
    std::vector<ProbeReport> reports;
    std::size_t left;
    asio::steady_timer all_done;
  };
  auto gather = std::make_shared<Gather>(ex, specs.size());
  gather->all_done.expires_at(asio::steady_timer::time_point::max());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    asio::co_spawn(ex, run_probe(ex, specs[i], o),
                   [gather, i](std::exception_ptr, ProbeReport report) {
                     gather->reports[i] = std::move(report);
                     if (--gather->left == 0) gather->all_done.cancel();
                   });
  }
  if (gather->left > 0) {
    boost::system::error_code ec;
    co_await gather->all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return std::move(gather->reports);
}

}  // namespace derpctl::probe
