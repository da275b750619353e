#include "relay/admin/convert.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace derp::admin {

void set_timestamp(google::protobuf::Timestamp& out, std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  auto secs = ns / 1'000'000'000;
  auto rem = ns % 1'000'000'000;
  if (rem < 0) {
    rem += 1'000'000'000;
    --secs;
  }
  out.set_seconds(secs);
  out.set_nanos(static_cast<std::int32_t>(rem));
}

void set_duration(google::protobuf::Duration& out, std::chrono::nanoseconds d) {
  out.set_seconds(d.count() / 1'000'000'000);
  out.set_nanos(static_cast<std::int32_t>(d.count() % 1'000'000'000));
}

std::chrono::milliseconds to_millis(const google::protobuf::Duration& d) {
  // A caller can send any 64-bit seconds; scaling those by 1000 overflowed (found by
  // admin_request_fuzz). Saturate instead, so range checks see "far too long", not garbage.
  constexpr std::int64_t kLimit = std::numeric_limits<std::int64_t>::max() / 1000 - 1;
  std::int64_t seconds = std::clamp<std::int64_t>(d.seconds(), -kLimit, kLimit);
  return std::chrono::milliseconds(seconds * 1000 + d.nanos() / 1'000'000);
}

namespace {
pb::Transport to_proto(server::TransportKind k) {
  switch (k) {
    case server::TransportKind::kPlainHttp:
      return pb::TRANSPORT_HTTP;
    case server::TransportKind::kTls:
      return pb::TRANSPORT_TLS;
    case server::TransportKind::kWebSocket:
      return pb::TRANSPORT_WEBSOCKET;
  }
  return pb::TRANSPORT_UNSPECIFIED;
}
}  // namespace

void to_proto(const server::SessionSnapshot& s, pb::Client& out) {
  out.set_key(s.key.to_text());
  out.set_conn_id(s.conn_id);
  out.set_remote_addr(s.info.remote_text);
  out.set_transport(to_proto(s.info.transport));
  set_timestamp(*out.mutable_connected_at(), s.connected_at);
  out.set_home(s.preferred);
  out.set_prober(s.is_prober);
  out.set_mesh_peer(s.can_mesh);
  out.set_duplicate(s.duplicate);
  out.set_watcher(s.watcher);
  out.set_not_ideal(s.info.not_ideal);
  out.set_packets_in(s.packets_in);
  out.set_bytes_in(s.bytes_in);
  out.set_packets_out(s.packets_out);
  out.set_bytes_out(s.bytes_out);
  out.set_drops(s.drops);
  for (std::size_t r = 0; r < s.drops_by_reason.size(); ++r) {
    if (s.drops_by_reason[r] == 0) continue;
    (*out.mutable_drops_by_reason())[std::string(
        server::to_string(static_cast<server::DropReason>(r)))] = s.drops_by_reason[r];
  }
  out.set_queue_depth(s.queue_depth);
  set_timestamp(*out.mutable_last_activity(), s.last_activity);
  if (s.receive_rate.limited()) to_proto(s.receive_rate, *out.mutable_receive_limit());
  out.set_receive_limit_overridden(s.receive_rate_overridden);
}

void to_proto(const limits::ReceiveRate& r, pb::ReceiveLimit& out) {
  out.set_bytes_per_sec(r.bytes_per_second);
  out.set_burst_bytes(r.limited() ? r.effective_burst() : 0);
}

RateLimitChange parse_rate_limit_change(const pb::ClientRateLimitChange& req) {
  RateLimitChange c;
  auto key = parse_client_key(req.key());
  if (!key) {
    c.error = "key: expected nodekey:<64 hex digits> (as `derpctl clients` shows)";
    return c;
  }
  c.key = *key;
  switch (req.mode()) {
    case pb::ClientRateLimitChange::MODE_LIMIT:
      if (req.bytes_per_sec() == 0) {
        c.error = "a limit needs a rate above 0 bytes per second (MODE_UNLIMITED exempts a key)";
        return c;
      }
      c.rate = limits::ReceiveRate{req.bytes_per_sec(), req.burst_bytes()};
      return c;
    case pb::ClientRateLimitChange::MODE_UNLIMITED:
      c.rate = limits::ReceiveRate{};
      return c;
    case pb::ClientRateLimitChange::MODE_DEFAULT:
      return c;
    default:
      c.error = "mode must be MODE_LIMIT, MODE_UNLIMITED or MODE_DEFAULT";
      return c;
  }
}

void to_proto(const server::ClientEvent& e, std::chrono::system_clock::time_point when,
              pb::ClientEvent& out) {
  switch (e.kind) {
    case server::ClientEvent::Kind::kConnected:
      out.set_kind(pb::ClientEvent::KIND_CONNECTED);
      break;
    case server::ClientEvent::Kind::kDisconnected:
      out.set_kind(pb::ClientEvent::KIND_DISCONNECTED);
      break;
    case server::ClientEvent::Kind::kHomeChanged:
      out.set_kind(pb::ClientEvent::KIND_HOME_CHANGED);
      break;
  }
  set_timestamp(*out.mutable_time(), when);
  out.set_key(e.key.to_text());
  out.set_conn_id(e.conn_id);
  out.set_remote_addr(e.remote);
  out.set_home(e.preferred);
  out.set_reason(e.reason);
}

pb::DrainState to_proto(server::DrainState s) {
  switch (s) {
    case server::DrainState::kServing:
      return pb::DRAIN_STATE_SERVING;
    case server::DrainState::kDraining:
      return pb::DRAIN_STATE_DRAINING;
    case server::DrainState::kDrained:
      return pb::DRAIN_STATE_DRAINED;
  }
  return pb::DRAIN_STATE_UNSPECIFIED;
}

void to_proto(const server::DrainProgress& p, pb::DrainStatus& out) {
  out.set_state(to_proto(p.state));
  set_timestamp(*out.mutable_since(), p.since);
  if (p.state != server::DrainState::kServing) {
    set_timestamp(*out.mutable_deadline(), p.deadline);
    out.set_closed(p.closed);
  }
  out.set_remaining(p.remaining);
  out.set_remaining_mesh(p.remaining_mesh);
  out.set_stun_stopped(p.stun_stopped);
}

pb::MeshLinkState to_proto(server::MeshLinkState s) {
  switch (s) {
    case server::MeshLinkState::kConnecting:
      return pb::MESH_LINK_STATE_CONNECTING;
    case server::MeshLinkState::kUp:
      return pb::MESH_LINK_STATE_UP;
    case server::MeshLinkState::kBackoff:
      return pb::MESH_LINK_STATE_BACKOFF;
    case server::MeshLinkState::kSelf:
      return pb::MESH_LINK_STATE_SELF;
    case server::MeshLinkState::kStopped:
      return pb::MESH_LINK_STATE_STOPPED;
  }
  return pb::MESH_LINK_STATE_UNSPECIFIED;
}

void to_proto(const MeshLinkHealthData& m, pb::MeshLinkHealth& out) {
  out.set_peer(m.peer);
  out.set_state(to_proto(m.state));
  set_timestamp(*out.mutable_since(), m.since);
  out.set_reconnects(m.reconnects);
  out.set_last_error(m.last_error);
  out.set_peer_present_count(m.peer_present_count);
  out.set_packets_out(m.packets_out);
  out.set_bytes_out(m.bytes_out);
  out.set_packets_in(m.packets_in);
  out.set_bytes_in(m.bytes_in);
}

void to_proto(const CertSummary& c, pb::TlsCertificate& out) {
  out.set_subject(c.subject);
  for (const auto& s : c.sans) out.add_sans(s);
  out.mutable_not_before()->set_seconds(c.not_before);
  out.mutable_not_after()->set_seconds(c.not_after);
  out.set_sha256(c.sha256_hex);
  out.set_path(c.path);
  out.set_issuer(c.issuer);
  out.set_certmode(c.certmode);
  out.set_present(c.present);
  out.set_acme_directory(c.acme_directory);
  if (c.last_renewal_attempt > 0) {
    out.mutable_last_renewal_attempt()->set_seconds(c.last_renewal_attempt);
    out.set_last_renewal_ok(c.last_renewal_ok);
    out.set_last_renewal_result(c.last_renewal_result);
  }
  if (c.next_renewal_check > 0) out.mutable_next_renewal_check()->set_seconds(c.next_renewal_check);
}

std::optional<protocol::NodePublic> parse_client_key(std::string_view text) {
  if (text.size() == 64) {
    if (auto bytes = protocol::parse_hex32(text)) return protocol::NodePublic{*bytes};
    return std::nullopt;
  }
  return protocol::parse_node_public(text);
}

void to_proto(const limits::ConnectionLimitStats& s, pb::ConnectionLimits& out) {
  out.set_max_connections(s.settings.max_connections);
  out.set_max_connections_per_ip(s.settings.max_per_ip);
  out.set_accept_rate(s.settings.accept_rate);
  out.set_accept_burst(s.settings.accept_burst);
  out.set_open(s.open);
  out.set_open_exempt(s.open_exempt);
  out.set_source_ips(s.source_ips);
  out.set_accepted(s.accepted);
  for (std::size_t r = 1; r < limits::kRefusalCount; ++r) {
    (*out.mutable_refused())[std::string(limits::to_string(static_cast<limits::Refusal>(r)))] =
        s.refused[r];
  }
  out.set_descriptor_limit(s.descriptor_limit);
  out.set_descriptor_reserve(s.descriptor_reserve);
  for (const auto& e : s.exempt) out.add_exempt(e);
}

}  // namespace derp::admin
