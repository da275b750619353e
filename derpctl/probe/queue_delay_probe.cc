// derp/<region>/<from>/<to>/qd (protocol §10): 260-byte packets at --qd-rate for --qd-duration,
// each carrying its sequence number and send time; the receiver measures each packet's delay.
// A packet not arrived within --qd-packet-timeout of the last send counts as lost, as does one
// that took longer than that. derpprobe runs this continuously; here each run is one stretch.
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstring>

#include "derpctl/probe/probe_clients.h"
#include "derpctl/probe/probes.h"

namespace derpctl::probe {

namespace asio = boost::asio;
namespace client = derp::client;
using Clock = std::chrono::steady_clock;

namespace {

struct Stream {
  explicit Stream(Executor ex) : pace(ex), grace(ex) {}
  asio::steady_timer pace;   // between sends
  asio::steady_timer grace;  // after the last send: how long the receiver still waits
  bool sending_done = false;
  bool waited_out = false;
  std::string send_error;
  void cancel() {
    pace.cancel();
    grace.cancel();
  }
};

std::vector<std::uint8_t> stamped_packet(std::uint64_t seq, Clock::time_point sent) {
  std::vector<std::uint8_t> p(kQueueDelayPacketSize, 0);
  const std::int64_t ns = sent.time_since_epoch().count();
  std::memcpy(p.data(), &seq, sizeof(seq));
  std::memcpy(p.data() + 8, &ns, sizeof(ns));
  return p;
}

asio::awaitable<void> send_stream(std::shared_ptr<Stream> stream,
                                  std::shared_ptr<client::DerpClient> sender,
                                  derp::protocol::NodePublic to, std::uint64_t count,
                                  Clock::duration gap, Clock::duration grace) {
  const auto start = Clock::now();
  for (std::uint64_t seq = 0; seq < count; ++seq) {
    stream->pace.expires_at(start + gap * static_cast<std::int64_t>(seq));
    co_await stream->pace.async_wait(asio::use_awaitable);
    // Named, not a temporary in the co_await: gcc 12 destroys such temporaries twice.
    auto packet = stamped_packet(seq, Clock::now());
    co_await sender->send_packet(to, std::move(packet));
  }
  stream->sending_done = true;
  stream->grace.expires_after(grace);
  co_await stream->grace.async_wait(asio::use_awaitable);
  stream->waited_out = true;
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto at = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(at, sorted.size() - 1)];
}

}  // namespace

asio::awaitable<ProbeOutcome> probe_queue_delay(Executor ex, const ProbeSpec& spec,
                                                const ProbeOptions& o, ProbeContext& ctx) {
  auto pair = co_await open_pair(ex, spec, o, /*is_prober=*/false, ctx);
  const auto& sender = pair.sender;
  const auto& receiver = pair.receiver;

  const double rate = std::max(o.qd_packets_per_second, 0.1);
  const auto count = static_cast<std::uint64_t>(
      std::max(1.0, rate * std::chrono::duration<double>(o.qd_duration).count()));
  const auto gap =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1 / rate));
  auto stream = std::make_shared<Stream>(ex);
  ctx.step("sending " + std::to_string(count) + " packets");
  asio::co_spawn(
      ex, send_stream(stream, sender, receiver->public_key(), count, gap, o.qd_packet_timeout),
      [stream, receiver](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            if (!stream->waited_out) stream->send_error = ex.what();
          }
        }
        receiver->close();  // the grace period is over (or sending failed)
      });

  std::vector<double> delays_ms;
  std::vector<bool> seen(count, false);
  std::uint64_t late = 0;
  try {
    while (delays_ms.size() + late < count) {
      auto got = co_await next_packet(*receiver);
      const auto now = Clock::now();
      if (got.src != sender->public_key() || got.data.size() != kQueueDelayPacketSize) continue;
      std::uint64_t seq;
      std::int64_t ns;
      std::memcpy(&seq, got.data.data(), sizeof(seq));
      std::memcpy(&ns, got.data.data() + 8, sizeof(ns));
      if (seq >= count || seen[seq]) continue;
      seen[seq] = true;
      const auto delay = now - Clock::time_point(Clock::duration(ns));
      if (delay > o.qd_packet_timeout) {
        ++late;
      } else {
        delays_ms.push_back(std::chrono::duration<double, std::milli>(delay).count());
      }
    }
  } catch (const std::exception&) {
    // The receiver was closed: the grace period ended, sending failed, or the deadline passed.
  }
  const bool sending_done = stream->sending_done;
  stream->cancel();
  sender->close();
  receiver->close();
  if (ctx.timed_out()) throw std::runtime_error("timed out");
  if (!stream->send_error.empty()) throw std::runtime_error("sending: " + stream->send_error);
  if (!sending_done) throw std::runtime_error("the receiving connection ended");

  const std::uint64_t lost = count - delays_ms.size();
  std::sort(delays_ms.begin(), delays_ms.end());
  ProbeOutcome out;
  out.good = lost == 0;
  out.figures = {{"packets", static_cast<double>(count)},
                 {"lost", static_cast<double>(lost)},
                 {"delay_p50_ms", percentile(delays_ms, 0.5)},
                 {"delay_p99_ms", percentile(delays_ms, 0.99)}};
  char text[160];
  std::snprintf(text, sizeof(text), "%llu packets, delay p50 %.2f ms p99 %.2f ms, %llu lost",
                static_cast<unsigned long long>(count), percentile(delays_ms, 0.5),
                percentile(delays_ms, 0.99), static_cast<unsigned long long>(lost));
  out.reason = text;
  co_return out;
}

}  // namespace derpctl::probe
