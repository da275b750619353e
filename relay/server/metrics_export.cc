#include "relay/server/metrics_export.h"

#include <dirent.h>
#include <fmt/format.h>

#include <thread>

namespace derp::server {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::size_t count_open_fds() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n > 2 ? n - 3 : 0;  // ".", ".." and the DIR's own descriptor
}

namespace {

std::size_t count_threads() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n > 2 ? n - 2 : 0;
}

void metric(std::string& out, std::string_view name, std::string_view type, auto value) {
  if (!type.empty()) out += fmt::format("# TYPE {} {}\n", name, type);
  out += fmt::format("{} {}\n", name, value);
}

}  // namespace

void append_prometheus(std::string& out, const ServerStats& s,
                       std::chrono::system_clock::time_point started_at) {
  auto counter = [&](std::string_view name, std::uint64_t v) { metric(out, name, "counter", v); };
  auto gauge = [&](std::string_view name, std::int64_t v) { metric(out, name, "gauge", v); };
  counter("derp_accepts", s.accepts);
  gauge("derp_current_connections", s.current_connections);
  gauge("derp_current_home_connections", s.current_home_connections);
  gauge("derp_current_notideal_connections", s.current_notideal_connections);
  auto local = static_cast<std::int64_t>(s.registry.local_keys);
  auto total = static_cast<std::int64_t>(s.registry.total_keys);
  gauge("derp_clients_total", total);
  gauge("derp_clients_local", local);
  gauge("derp_clients_remote", total - local);
  gauge("derp_current_dup_client_keys", static_cast<std::int64_t>(s.registry.dup_keys));
  gauge("derp_current_dup_client_conns", static_cast<std::int64_t>(s.registry.dup_conns));
  counter("derp_total_dup_client_conns", s.registry.total_dup_conns);
  gauge("derp_watchers", static_cast<std::int64_t>(s.registry.watchers));
  gauge("derp_current_file_descriptors", static_cast<std::int64_t>(count_open_fds()));
  counter("derp_bytes_received", s.bytes_received);
  counter("derp_packets_received", s.packets_received);
  out += "# TYPE derp_packets_received_kind counter\n";
  out += fmt::format("derp_packets_received_kind{{kind=\"disco\"}} {}\n", s.packets_received_disco);
  out += fmt::format("derp_packets_received_kind{{kind=\"other\"}} {}\n", s.packets_received_other);
  counter("derp_bytes_sent", s.bytes_sent);
  counter("derp_packets_sent", s.packets_sent);
  counter("derp_unknown_frames", s.unknown_frames);
  counter("derp_home_moves_in", s.home_moves_in);
  counter("derp_home_moves_out", s.home_moves_out);
  counter("derp_got_ping", s.got_ping);
  counter("derp_sent_pong", s.sent_pong);
  counter("derp_peer_gone_disconnected_frames", s.peer_gone_disconnected_frames);
  counter("derp_peer_gone_not_here_frames", s.peer_gone_not_here_frames);
  counter("derp_packets_forwarded_out", s.packets_forwarded_out);
  counter("derp_packets_forwarded_in", s.packets_forwarded_in);
  counter("derp_multiforwarder_created", s.registry.multiforwarder_created);
  counter("derp_multiforwarder_deleted", s.registry.multiforwarder_deleted);
  counter("derp_packet_forwarder_delete_other_value", s.registry.forwarder_delete_other_value);
  counter("derp_sclient_write_timeouts", s.sclient_write_timeouts);
  counter("derp_handshake_failures", s.handshake_failures);
  counter("derp_protocol_errors", s.protocol_errors);
  counter("derp_http_headers_refused", s.http_headers_refused);
  metric(out, "derp_average_queue_duration_ms", "", s.average_queue_duration_ms);
  counter("derp_websocket_accepts", s.websocket_accepts);
  // derpd's own series carry help text (derper's above have none).
  auto described = [&](std::string_view name, std::string_view type, std::string_view help,
                       auto value) {
    out += fmt::format("# HELP {} {}\n", name, help);
    metric(out, name, type, value);
  };
  described("derpd_workers_active", "gauge",
            "Worker threads carrying clients now (--worker-packing).", s.workers_active);
  out += "# HELP derpd_worker_clients Established client connections on each worker thread.\n";
  out += "# TYPE derpd_worker_clients gauge\n";
  for (std::size_t i = 0; i < s.clients_per_worker.size(); ++i) {
    out += fmt::format("derpd_worker_clients{{worker=\"{}\"}} {}\n", i, s.clients_per_worker[i]);
  }
  described("derpd_sessions_moved_total", "counter",
            "Client connections moved from one worker thread to another by the packing.",
            s.sessions_moved);
  described("derpd_packets_handed_over_total", "counter",
            "Packets relayed to a client on another worker thread, through its inbox.",
            s.packets_handed_over);
  if (s.rate_limits_in_use) {
    metric(out, "derp_rate_limit_per_client_bytes_per_second", "",
           s.default_receive_rate.bytes_per_second);
    metric(out, "derp_rate_limit_per_client_burst_bytes", "",
           s.default_receive_rate.limited() ? s.default_receive_rate.effective_burst() : 0);
    counter("derp_rate_limit_per_client_waited", s.rate_limit_waits);
  }
  for (auto [name, table] : {std::pair{"derp_packets_dropped", &s.packets_dropped},
                             std::pair{"derp_bytes_dropped", &s.bytes_dropped}}) {
    out += fmt::format("# TYPE {} counter\n", name);
    for (std::size_t r = 0; r < kDropReasonCount; ++r) {
      for (int k = 0; k < 2; ++k) {
        out += fmt::format("{}{{reason=\"{}\",kind=\"{}\"}} {}\n", name,
                           to_string(static_cast<DropReason>(r)), k ? "disco" : "other",
                           (*table)[r][k]);
      }
    }
  }
  auto start = std::chrono::duration_cast<std::chrono::seconds>(started_at.time_since_epoch());
  auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() -
                                                             started_at);
  gauge("process_start_unix_time", start.count());
  counter("uptime_sec", static_cast<std::uint64_t>(up.count()));
  gauge("goroutines", static_cast<std::int64_t>(count_threads()));
  out += fmt::format("version{{version=\"{}\",binary=\"derpd\"}} 1\n", DERPD_VERSION);
}

nlohmann::json expvar_json(const ServerStats& s, std::chrono::system_clock::time_point started_at) {
  nlohmann::json derp = {
      {"accepts", s.accepts},
      {"gauge_current_connections", s.current_connections},
      {"gauge_current_home_connections", s.current_home_connections},
      {"gauge_current_notideal_connections", s.current_notideal_connections},
      {"gauge_clients_total", s.registry.total_keys},
      {"gauge_clients_local", s.registry.local_keys},
      {"gauge_clients_remote", s.registry.total_keys - s.registry.local_keys},
      {"gauge_current_dup_client_keys", s.registry.dup_keys},
      {"gauge_current_dup_client_conns", s.registry.dup_conns},
      {"counter_total_dup_client_conns", s.registry.total_dup_conns},
      {"gauge_watchers", s.registry.watchers},
      {"bytes_received", s.bytes_received},
      {"packets_received", s.packets_received},
      {"counter_packets_received_kind",
       {{"disco", s.packets_received_disco}, {"other", s.packets_received_other}}},
      {"bytes_sent", s.bytes_sent},
      {"packets_sent", s.packets_sent},
      {"unknown_frames", s.unknown_frames},
      {"home_moves_in", s.home_moves_in},
      {"home_moves_out", s.home_moves_out},
      {"got_ping", s.got_ping},
      {"sent_pong", s.sent_pong},
      {"peer_gone_disconnected_frames", s.peer_gone_disconnected_frames},
      {"peer_gone_not_here_frames", s.peer_gone_not_here_frames},
      {"packets_forwarded_out", s.packets_forwarded_out},
      {"packets_forwarded_in", s.packets_forwarded_in},
      {"sclient_write_timeouts", s.sclient_write_timeouts},
      {"average_queue_duration_ms", s.average_queue_duration_ms},
  };
  if (s.rate_limits_in_use) {
    derp["rate_limit_per_client_bytes_per_second"] = s.default_receive_rate.bytes_per_second;
    derp["rate_limit_per_client_burst_bytes"] =
        s.default_receive_rate.limited() ? s.default_receive_rate.effective_burst() : 0;
    derp["counter_rate_limit_per_client_waited"] = s.rate_limit_waits;
  }
  auto start = std::chrono::duration_cast<std::chrono::seconds>(started_at.time_since_epoch());
  return {{"derp", derp},
          {"derp_packets_dropped", "MultiLabelMap"},
          {"derp_bytes_dropped", "MultiLabelMap"},
          {"derp_websocket_accepts", s.websocket_accepts},
          {"process_start_unix_time", start.count()},
          {"version", DERPD_VERSION}};
}

}  // namespace derp::server
