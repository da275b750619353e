// derp/<region>/<from>/<to>/mesh (protocol §10): two fresh prober clients, one on each node (both
// on one node when from == to), and one random 8-byte packet that must arrive at `to` unchanged
// and from the sender's key. With a mesh key, the from == to probe also checks that the node
// accepts the key: it sends WatchConns, a mesh-only frame, which a node with another key answers
// by closing the connection.
#include "derpctl/probe/probe_clients.h"
#include "derpctl/probe/probes.h"

namespace derpctl::probe {

namespace asio = boost::asio;
namespace client = derp::client;

namespace {

asio::awaitable<void> check_mesh_key(client::DerpClient& c, const DerpNode& node,
                                     ProbeContext& ctx) {
  ctx.step("checking that " + node.name + " accepts the mesh key");
  co_await c.watch_conns();
  bool accepted = false;
  try {
    for (;;) {
      auto message = co_await c.receive();
      if (std::holds_alternative<client::PeerPresent>(message)) break;
    }
    accepted = true;
  } catch (const std::exception&) {
  }
  if (!accepted && !ctx.timed_out()) {
    throw std::runtime_error(node.name +
                             " does not accept the mesh key (--mesh-psk-file): it closed the "
                             "connection on WatchConns");
  }
}

}  // namespace

asio::awaitable<ProbeOutcome> probe_mesh(Executor ex, const ProbeSpec& spec, const ProbeOptions& o,
                                         ProbeContext& ctx) {
  auto pair = co_await open_pair(ex, spec, o, /*is_prober=*/true, ctx);
  const auto& sender = pair.sender;
  const auto& receiver = pair.receiver;
  if (o.mesh_key && spec.from.name == spec.to.name) {
    co_await check_mesh_key(*sender, spec.from, ctx);
  }

  const auto payload = random_bytes(8);
  ctx.step("sending from " + spec.from.name);
  co_await sender->send_packet(receiver->public_key(), payload);
  ctx.step("waiting for the packet at " + spec.to.name);
  auto got = co_await next_packet(*receiver);
  ProbeOutcome out;
  if (got.src != sender->public_key()) {
    out.reason = "a packet from " + got.src.short_form() + " arrived instead of the probe's";
  } else if (got.data != payload) {
    out.reason = "the packet arrived changed";
  } else {
    out.good = true;
  }
  sender->close();
  receiver->close();
  co_return out;
}

}  // namespace derpctl::probe
