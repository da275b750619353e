// derp/<region>/<node>/udp and /udp6 (protocol §10): a Tailscale STUN request from an ephemeral
// port to the node's address of that family; the answer must parse and carry the request's
// transaction ID. An attempt waits 2 s, then a new one starts, until the probe's deadline.
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <sodium.h>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "derpctl/probe/probes.h"
#include "stun/binding_codec.h"

namespace derpctl::probe {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

udp::endpoint stun_endpoint(const ProbeSpec& spec) {
  const std::string& literal = spec.ipv6 ? spec.from.ipv6 : spec.from.ipv4;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(literal, ec);
  if (ec || address.is_v6() != spec.ipv6) {
    throw std::runtime_error("the map's " + std::string(spec.ipv6 ? "IPv6" : "IPv4") + " \"" +
                             literal + "\" is not an address of that family");
  }
  return udp::endpoint(address, static_cast<std::uint16_t>(spec.from.effective_stun_port()));
}

}  // namespace

asio::awaitable<ProbeOutcome> probe_stun(Executor ex, const ProbeSpec& spec, const ProbeOptions&,
                                         ProbeContext& ctx) {
  const udp::endpoint server = stun_endpoint(spec);
  auto socket = std::make_shared<udp::socket>(ex, server.protocol());
  ctx.close_on_timeout(socket);
  auto attempt_timer = std::make_shared<asio::steady_timer>(ex);
  ctx.cancel_on_timeout(attempt_timer);
  const std::string where = server.address().to_string() + " port " + std::to_string(server.port());

  std::array<std::uint8_t, 1500> reply{};
  for (int attempt = 1;; ++attempt) {
    derp::stun::TxId txid;
    randombytes_buf(txid.data(), txid.size());
    const auto request = derp::stun::make_tailscale_request(txid);
    ctx.step("STUN attempt " + std::to_string(attempt) + " to " + where);
    const auto sent_at = std::chrono::steady_clock::now();
    co_await socket->async_send_to(asio::buffer(request), server, asio::use_awaitable);
    // Shared with the timer's handler, which may run after this coroutine has ended (a reply and
    // the expiry ready in the same turn).
    auto attempt_over = std::make_shared<bool>(false);
    attempt_timer->expires_after(kStunAttemptWait);
    attempt_timer->async_wait([socket, attempt_over](boost::system::error_code ec) {
      if (ec) return;
      *attempt_over = true;
      boost::system::error_code ignored;  // the deadline may have closed the socket already
      socket->cancel(ignored);
    });
    for (;;) {
      udp::endpoint from;
      std::size_t n = 0;
      boost::system::error_code ec;
      try {
        n = co_await socket->async_receive_from(asio::buffer(reply), from, asio::use_awaitable);
      } catch (const boost::system::system_error& e) {
        ec = e.code();
      }
      if (ec && !*attempt_over) {
        // ICMP port unreachable arrives as connection_refused on a later receive.
        attempt_timer->cancel();
        if (ctx.timed_out()) throw boost::system::system_error(ec);
        throw std::runtime_error("no STUN server at " + where + ": " + ec.message());
      }
      if (*attempt_over) break;
      if (from != server) continue;
      auto parsed = derp::stun::parse_binding_response({reply.data(), n});
      if (!parsed || parsed->txid != txid) continue;  // a late answer to an earlier attempt
      attempt_timer->cancel();
      ProbeOutcome out;
      out.good = true;
      out.latency_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent_at)
              .count();
      out.reason = "answered from " + where;
      co_return out;
    }
  }
}

}  // namespace derpctl::probe
