// What the admin service reports about a node beyond the relay core, as plain data and providers
// that the node's wiring fills in. Nothing here depends on gRPC, HTTP, TLS or the mesh, so those
// modules never need to include the admin API.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "relay/limits/connection_limits.h"
#include "relay/server/mesh_forwarder.h"

namespace derp::admin {

struct MeshLinkHealthData {
  std::string peer;  // the sibling's host name or URL
  server::MeshLinkState state = server::MeshLinkState::kConnecting;
  std::chrono::system_clock::time_point since;
  std::uint64_t reconnects = 0;
  std::string last_error;
  std::uint64_t peer_present_count = 0;
  std::uint64_t packets_out = 0, bytes_out = 0, packets_in = 0, bytes_in = 0;
};
using MeshHealthProvider = std::function<std::vector<MeshLinkHealthData>()>;

// The outcome of adding or removing a sibling at run time (derpctl mesh add/remove).
struct MeshChangeResult {
  enum class Error { kNone, kNoMeshKey, kBadEntry, kAlreadyMember, kNotMember, kFull, kNotSaved };
  Error error = Error::kNone;
  std::string message;             // what went wrong, or what to know (e.g. not persisted)
  std::vector<std::string> peers;  // the node's siblings afterwards
  std::string persisted_to;        // the --mesh-with-file written, or ""
};
using MeshChanger = std::function<MeshChangeResult(const std::string& entry, bool add)>;

// The admission rules (--admit-file) as the admin API sees them.
struct AdmitRulesResult {
  enum class Error { kNone, kBadTarget, kNoSuchRule, kNotSaved };
  Error error = Error::kNone;
  std::string message;
  std::vector<std::string> rules;
  std::string file;
  std::size_t closed = 0;
};
enum class AdmitAction { kAllow, kDeny, kRemove };
struct RefusalInfo {
  std::string key, source, reason;
  std::chrono::system_clock::time_point at;
};
struct AdmitRulesControl {
  std::function<std::vector<RefusalInfo>()> recent_refusals;  // empty: no admission checks
  std::function<AdmitRulesResult()> list;
  std::function<AdmitRulesResult(AdmitAction, const std::string& target)> change;
};

struct CertSummary {
  bool present = true;  // false: an ACME node still waiting for its first certificate
  std::string path;
  std::string subject;
  std::string issuer;
  std::vector<std::string> sans;
  std::int64_t not_before = 0;  // Unix seconds
  std::int64_t not_after = 0;
  std::string sha256_hex;
  std::string certmode;
  // ACME modes (relay/acme/cert_manager.h).
  std::string acme_directory;
  std::int64_t last_renewal_attempt = 0;  // 0: none since start
  bool last_renewal_ok = false;
  std::string last_renewal_result;
  std::int64_t next_renewal_check = 0;
};

// Starts a certificate renewal and calls back with its result, from any thread.
using CertRenewer = std::function<void(std::function<void(bool ok, const std::string& result)>)>;

struct ListenerInfo {
  std::string kind;  // "derp", "http", "stun", "admin"
  std::string address;
};

struct NodeFacts {
  std::string version;
  std::vector<ListenerInfo> listeners;
  std::function<std::optional<CertSummary>()> cert;    // empty or nullopt: plain HTTP
  CertRenewer renew_cert;                              // empty: not an ACME node
  std::function<std::vector<CertSummary>()> ip_certs;  // empty: no --acme-ip-certs
  MeshHealthProvider mesh;                             // empty: no mesh
  MeshChanger change_mesh;                             // empty: membership is fixed
  AdmitRulesControl admit;                             // empty: no --admit-file
  double drain_rate = 500;  // clients per second of a Drain that names no rate (--drain-rate)
  std::shared_ptr<limits::ConnectionLimits> limits;  // null: the node has none
  std::string rate_config;                           // --rate-config, or ""
};

}  // namespace derp::admin
