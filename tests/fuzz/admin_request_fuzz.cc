// Admin API requests as a hostile (or buggy) gRPC client could send them: the bytes are decoded as
// each request message and run through the same checks and selection the service uses.
#include <cstdint>
#include <vector>

#include "relay/admin/client_query.h"
#include "relay/admin/convert.h"

using namespace derp;
namespace pb = ::derpd::admin::v1;

namespace {

std::vector<server::SessionSnapshot> sample_clients() {
  std::vector<server::SessionSnapshot> all;
  for (int i = 0; i < 16; ++i) {
    server::SessionSnapshot s;
    s.conn_id = static_cast<std::uint64_t>(i + 1);
    s.key = protocol::NodePrivate::generate().public_key();
    s.info.remote_text = (i % 2 ? "127.0.0." : "[::") + std::to_string(i) + (i % 2 ? ":1" : "1]:2");
    s.established = true;
    s.bytes_in = static_cast<std::uint64_t>(i * 100);
    all.push_back(s);
  }
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto clients = sample_clients();
  const int n = static_cast<int>(size);
  pb::ListClientsRequest list;
  if (list.ParseFromArray(data, n)) {
    admin::ClientQuery q;
    q.key_prefix = list.key_prefix();
    q.remote_ip = list.remote_ip();
    q.sort = static_cast<admin::ClientSort>(static_cast<unsigned>(list.sort()) % 7);
    q.descending = list.descending();
    q.page_size = list.page_size();
    q.page_token = list.page_token();
    q.mesh_peers_only = list.mesh_peers_only();
    try {
      auto page = admin::select_clients(clients, q);
      for (const auto& c : page.clients) {
        pb::Client out;
        admin::to_proto(c, out);
      }
    } catch (const admin::BadQuery&) {
    }
  }
  pb::GetClientRequest get;
  if (get.ParseFromArray(data, n)) (void)admin::parse_client_key(get.key());
  pb::ClientRateLimitChange rate;
  if (rate.ParseFromArray(data, n)) {
    auto change = admin::parse_rate_limit_change(rate);
    if (change.error.empty() && change.rate && change.rate->limited() &&
        rate.mode() != pb::ClientRateLimitChange::MODE_LIMIT) {
      __builtin_trap();  // only MODE_LIMIT sets a limit
    }
  }
  pb::DrainRequest drain;
  if (drain.ParseFromArray(data, n)) {
    (void)admin::to_millis(drain.deadline());
    (void)admin::to_millis(drain.interval());
  }
  return 0;
}
