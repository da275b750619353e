#include "derpctl/probe/probe_clients.h"

#include <sodium.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace derpctl::probe {

namespace client = derp::client;

std::string dial_address(const DerpNode& node) {
  if (!node.ipv4.empty() && node.ipv4 != "none") return node.ipv4;
  if (!node.ipv6.empty() && node.ipv6 != "none") return node.ipv6;
  return node.host_name;
}

boost::asio::awaitable<std::shared_ptr<client::DerpClient>> open_probe_client(
    Executor ex, const DerpNode& node, const ProbeOptions& o, bool is_prober, ProbeContext& ctx) {
  client::ClientOptions c;
  c.url = node.derp_url();
  c.key = derp::protocol::NodePrivate::generate();
  c.mesh_key = o.mesh_key;
  c.is_prober = is_prober;
  c.verify_tls = !node.insecure_for_tests;
  c.ca_file = o.ca_file;
  c.tls_cert_name = node.cert_name;
  c.dial_host = dial_address(node);
  c.timeout = ctx.remaining();
  auto connected = co_await client::DerpClient::connect(ex, c);
  std::shared_ptr<client::DerpClient> shared(std::move(connected));
  ctx.close_on_timeout(shared);
  co_return shared;
}

boost::asio::awaitable<client::RecvPacket> next_packet(client::DerpClient& c) {
  for (;;) {
    auto message = co_await c.receive();
    if (auto* packet = std::get_if<client::RecvPacket>(&message)) co_return std::move(*packet);
  }
}

}  // namespace derpctl::probe

namespace derpctl::probe {

boost::asio::awaitable<ProbePair> open_pair(Executor ex, const ProbeSpec& spec,
                                            const ProbeOptions& o, bool is_prober,
                                            ProbeContext& ctx) {
  ProbePair pair;
  ctx.step("connecting to " + spec.from.name);
  pair.sender = co_await open_probe_client(ex, spec.from, o, is_prober, ctx);
  ctx.step("connecting to " + spec.to.name);
  pair.receiver = co_await open_probe_client(ex, spec.to, o, is_prober, ctx);
  if (spec.from.name != spec.to.name) {
    ctx.step("waiting for the mesh to learn the receiving client");
    auto timer = std::make_shared<boost::asio::steady_timer>(ex);
    ctx.cancel_on_timeout(timer);
    timer->expires_after(std::chrono::milliseconds(100));
    co_await timer->async_wait(boost::asio::use_awaitable);
  }
  co_return pair;
}

std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::vector<std::uint8_t> out(n);
  randombytes_buf(out.data(), out.size());
  return out;
}

}  // namespace derpctl::probe
