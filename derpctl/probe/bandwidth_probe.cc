// derp/<region>/<from>/<to>/bw (protocol §10): --bw-size bytes from a client on `from` to one on
// `to`, in packets of at most 64 KiB with at most 30 unacknowledged (sent, not yet received), as
// the reference prober does. Each packet starts with its sequence number and is filled with bytes
// derived from it, so order, loss and corruption are all seen.
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "derpctl/probe/probe_clients.h"
#include "derpctl/probe/probes.h"

namespace derpctl::probe {

namespace asio = boost::asio;
namespace client = derp::client;

namespace {

std::vector<std::uint8_t> numbered_packet(std::uint64_t seq, std::size_t size) {
  std::vector<std::uint8_t> p(size);
  for (std::size_t i = 0; i < size; ++i) {
    p[i] = i < 8 ? static_cast<std::uint8_t>(seq >> (56 - 8 * i))
                 : static_cast<std::uint8_t>(seq * 131 + i * 7);
  }
  return p;
}

// What the sender and the receiver share; the sender waits on `window` while 30 are in flight.
struct Flow {
  explicit Flow(Executor ex) : window(ex) {}
  asio::steady_timer window;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  bool over = false;
  std::string send_error;
};

asio::awaitable<void> send_all(std::shared_ptr<Flow> flow,
                               std::shared_ptr<client::DerpClient> sender,
                               std::shared_ptr<client::DerpClient> receiver, std::uint64_t count,
                               std::size_t total) {
  for (std::uint64_t seq = 0; seq < count && !flow->over; ++seq) {
    while (!flow->over && flow->sent - flow->received >= kMaxBandwidthInFlight) {
      flow->window.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      co_await flow->window.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (flow->over) break;
    const std::size_t size = std::min(kMaxBandwidthPacket, total - seq * kMaxBandwidthPacket);
    // Named, not a temporary in the co_await: gcc 12 destroys such temporaries twice.
    auto packet = numbered_packet(seq, size);
    co_await sender->send_packet(receiver->public_key(), std::move(packet));
    ++flow->sent;
  }
}

}  // namespace

asio::awaitable<ProbeOutcome> probe_bandwidth(Executor ex, const ProbeSpec& spec,
                                              const ProbeOptions& o, ProbeContext& ctx) {
  auto pair = co_await open_pair(ex, spec, o, /*is_prober=*/false, ctx);
  const auto& sender = pair.sender;
  const auto& receiver = pair.receiver;

  const std::size_t total = std::max<std::size_t>(o.bw_size, 1);
  const std::uint64_t count = (total + kMaxBandwidthPacket - 1) / kMaxBandwidthPacket;
  auto flow = std::make_shared<Flow>(ex);
  const auto start = std::chrono::steady_clock::now();
  ctx.step("sending " + std::to_string(total) + " bytes");
  asio::co_spawn(ex, send_all(flow, sender, receiver, count, total),
                 [flow, receiver](std::exception_ptr e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     flow->send_error = ex.what();
                   }
                   receiver->close();  // ends the receiver's wait
                 });
  ProbeOutcome out;
  std::string failure;
  try {
    for (std::uint64_t seq = 0; seq < count && failure.empty(); ++seq) {
      auto got = co_await next_packet(*receiver);
      const std::size_t size = std::min(kMaxBandwidthPacket, total - seq * kMaxBandwidthPacket);
      if (got.src != sender->public_key()) {
        failure = "a packet from " + got.src.short_form() + " arrived instead of the probe's";
      } else if (got.data != numbered_packet(seq, size)) {
        failure = "packet " + std::to_string(seq) + " of " + std::to_string(count) +
                  " arrived out of order, changed or not at all";
      }
      ++flow->received;
      flow->window.cancel();
    }
  } catch (const std::exception& e) {
    failure = flow->send_error.empty() ? "receiving: " + std::string(e.what())
                                       : "sending: " + flow->send_error;
  }
  // The sender may still wait for the window: end it, so nothing outlives the probe.
  flow->over = true;
  flow->window.cancel();
  sender->close();
  receiver->close();
  if (!failure.empty()) throw std::runtime_error(failure);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double mbit = static_cast<double>(total) * 8 / seconds / 1e6;
  out.good = true;
  char text[96];
  std::snprintf(text, sizeof(text), "%zu bytes at %.1f Mbit/s", total, mbit);
  out.reason = text;
  out.figures = {{"bytes", static_cast<double>(total)}, {"mbit_per_second", mbit}};
  co_return out;
}

}  // namespace derpctl::probe
