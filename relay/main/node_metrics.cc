#include "relay/main/node_metrics.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "relay/server/metrics_export.h"

namespace derp::main {
namespace {

void help(std::string& out, std::string_view name, std::string_view type, std::string_view text) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, text, name, type);
}

}  // namespace

std::string node_metrics_text(const NodeMetrics& m) {
  std::string out;
  help(out, "derpd_build_info", "gauge", "Always 1; the version label says which derpd runs.");
  out += fmt::format("derpd_build_info{{version=\"{}\"}} 1\n", escape_label_value(m.version));

  help(out, "derpd_drain_state", "gauge",
       "1 for the node's drain state (serving, draining, drained), 0 for the others.");
  for (auto s : {server::DrainState::kServing, server::DrainState::kDraining,
                 server::DrainState::kDrained}) {
    out += fmt::format("derpd_drain_state{{state=\"{}\"}} {}\n", server::to_string(s),
                       s == m.drain ? 1 : 0);
  }

  help(out, "derpd_mesh_links", "gauge", "Siblings this node links to (--mesh-with).");
  out += fmt::format("derpd_mesh_links {}\n", m.mesh.size());
  // The families are declared even while empty, so dashboards and alert rules find every name.
  auto per_link = [&](std::string_view name, std::string_view type, std::string_view text,
                      auto value) {
    help(out, name, type, text);
    for (const auto& l : m.mesh) {
      out += fmt::format("{}{{peer=\"{}\"}} {}\n", name, escape_label_value(l.peer), value(l));
    }
  };
  per_link("derpd_mesh_link_up", "gauge", "1 while the mesh link to the sibling is up.",
           [](const MeshLinkMetrics& l) { return l.state == server::MeshLinkState::kUp ? 1 : 0; });
  per_link("derpd_mesh_link_routes", "gauge",
           "Clients the sibling reported connected to it, reachable through its link.",
           [](const MeshLinkMetrics& l) { return l.routes; });
  per_link("derpd_mesh_link_reconnects_total", "counter",
           "Times the mesh link to the sibling was connected again after it failed.",
           [](const MeshLinkMetrics& l) { return l.reconnects; });
  per_link("derpd_mesh_link_forwarded_packets_total", "counter",
           "Packets forwarded to the sibling over its link.",
           [](const MeshLinkMetrics& l) { return l.packets_out; });
  per_link("derpd_mesh_link_forwarded_bytes_total", "counter",
           "Packet bytes forwarded to the sibling over its link.",
           [](const MeshLinkMetrics& l) { return l.bytes_out; });
  help(out, "derpd_tls_cert_expiry_timestamp_seconds", "gauge",
       "When the certificate the node serves expires (Unix time); no sample without TLS.");
  for (const auto& c : m.certs) {
    out += fmt::format("derpd_tls_cert_expiry_timestamp_seconds{{name=\"{}\"}} {}\n",
                       escape_label_value(c.name), c.not_after);
  }
  help(out, "derpd_acme_renewals_total", "counter",
       "ACME certificate issuance attempts by result (ok: issued and served; error: failed); no "
       "sample without --certmode letsencrypt/gcp.");
  if (m.acme) {
    out += fmt::format("derpd_acme_renewals_total{{result=\"ok\"}} {}\n", m.acme->renewals_ok);
    out +=
        fmt::format("derpd_acme_renewals_total{{result=\"error\"}} {}\n", m.acme->renewals_failed);
  }
  return out;
}

std::string process_metrics_text() {
  std::string out;
  help(out, "process_open_fds", "gauge", "Open file descriptors.");
  out += fmt::format("process_open_fds {}\n", server::count_open_fds());
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    help(out, "process_max_fds", "gauge", "The open-file limit (RLIMIT_NOFILE, soft).");
    out += fmt::format("process_max_fds {}\n", nofile.rlim_cur);
  }
  // /proc/self/stat: fields after the command name, which is in parentheses and may hold spaces.
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  if (close != std::string::npos && close + 2 < line.size()) {
    std::istringstream fields(line.substr(close + 2));
    std::vector<std::string> f;
    for (std::string v; fields >> v;) f.push_back(v);
    // Counting from field 3 (state) as f[0]: utime 14, stime 15, starttime 22, rss 24.
    if (f.size() > 21) {
      const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
      const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      help(out, "process_cpu_seconds_total", "counter", "User and system CPU time used.");
      out += fmt::format("process_cpu_seconds_total {:.2f}\n", cpu);
      const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
      help(out, "process_resident_memory_bytes", "gauge", "Resident memory.");
      out += fmt::format("process_resident_memory_bytes {:.0f}\n", std::stod(f[21]) * page);
    }
  }
  return out;
}

}  // namespace derp::main
