// Core values to admin API messages and back. Pure functions, unit-tested without a server.
#pragma once

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <chrono>
#include <optional>
#include <string_view>

#include "derpd/admin/v1/admin.pb.h"
#include "relay/admin/node_facts.h"
#include "relay/server/client_events.h"
#include "relay/server/client_session.h"
#include "relay/server/drain_controller.h"

namespace derp::admin {

namespace pb = ::derpd::admin::v1;

void set_timestamp(google::protobuf::Timestamp& out, std::chrono::system_clock::time_point t);
void set_duration(google::protobuf::Duration& out, std::chrono::nanoseconds d);
// Saturates at about ±292 million years rather than overflow.
std::chrono::milliseconds to_millis(const google::protobuf::Duration& d);

void to_proto(const server::SessionSnapshot& s, pb::Client& out);
void to_proto(const server::ClientEvent& e, std::chrono::system_clock::time_point when,
              pb::ClientEvent& out);
void to_proto(const server::DrainProgress& p, pb::DrainStatus& out);
void to_proto(const MeshLinkHealthData& m, pb::MeshLinkHealth& out);
void to_proto(const CertSummary& c, pb::TlsCertificate& out);
void to_proto(const limits::ConnectionLimitStats& s, pb::ConnectionLimits& out);
pb::DrainState to_proto(server::DrainState s);
pb::MeshLinkState to_proto(server::MeshLinkState s);

// "nodekey:<64 hex>" or bare 64 hex digits; nullopt otherwise.
std::optional<protocol::NodePublic> parse_client_key(std::string_view text);

// A SetClientRateLimit request checked: the override to set (nullopt: remove it), or `error`.
struct RateLimitChange {
  protocol::NodePublic key;
  std::optional<limits::ReceiveRate> rate;
  std::string error;  // empty when the request is valid
};
RateLimitChange parse_rate_limit_change(const pb::ClientRateLimitChange& req);
void to_proto(const limits::ReceiveRate& r, pb::ReceiveLimit& out);

}  // namespace derp::admin
