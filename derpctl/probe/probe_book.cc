#include "derpctl/probe/probe_book.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "relay/server/metrics_export.h"

namespace derpctl::probe {
namespace {

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

std::string labels(const ProbeSpec& s, const std::string& extra = {}) {
  std::string out = "{name=\"" + derp::server::escape_label_value(s.name) + "\",class=\"" +
                    class_label(s.cls) + "\"";
  if (s.cls != ProbeClass::kDerpMap) {
    out += ",region=\"" + derp::server::escape_label_value(s.region_code) + "\",region_id=\"" +
           std::to_string(s.region_id) + "\",hostname=\"" +
           derp::server::escape_label_value(s.from.host_name) + "\"";
  }
  if (!s.derp_path().empty()) out += ",derp_path=\"" + s.derp_path() + "\"";
  if (!s.address_family().empty()) out += ",address_family=\"" + s.address_family() + "\"";
  return out + extra + "}";
}

std::string number(double v) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.17g", v);
  return text;
}

}  // namespace

void ProbeBook::started(const ProbeSpec& spec) {
  auto& e = entries_[spec.name];
  e.spec = spec;
  e.in_flight = true;
}

void ProbeBook::record(const ProbeReport& r) {
  auto& e = entries_[r.spec.name];
  e.spec = r.spec;
  e.in_flight = false;
  e.has_result = true;
  e.last = r.outcome;
  e.start_secs = unix_seconds(r.start);
  e.end_secs = unix_seconds(r.end);
  const double took = std::max(0.0, e.end_secs - e.start_secs);
  if (r.outcome.good) {
    ++e.ok;
    e.ok_seconds += took;
  } else {
    ++e.fail;
    e.fail_seconds += took;
  }
}

void ProbeBook::keep_only(const std::vector<ProbeSpec>& planned) {
  std::set<std::string> names;
  for (const auto& s : planned) names.insert(s.name);
  std::erase_if(entries_, [&](const auto& kv) {
    return kv.second.spec.cls != ProbeClass::kDerpMap && !names.contains(kv.first);
  });
}

bool ProbeBook::all_good() const {
  if (entries_.empty()) return false;
  return std::all_of(entries_.begin(), entries_.end(),
                     [](const auto& kv) { return kv.second.has_result && kv.second.last.good; });
}

std::string ProbeBook::metrics_text() const {
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, auto&& each) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [probe_name, e] : entries_) each(name, e);
  };
  auto line = [&](const char* name, const ProbeSpec& s, double v, const std::string& extra = {}) {
    out += name + labels(s, extra) + " " + number(v) + "\n";
  };
  family("derpprobe_interval_secs", "gauge", "How often the probe runs.",
         [&](const char* n, const Entry& e) {
           line(n, e.spec, static_cast<double>(interval_.count()));
         });
  family("derpprobe_start_secs", "gauge", "When the latest run of the probe started (Unix time).",
         [&](const char* n, const Entry& e) {
           if (e.has_result) line(n, e.spec, e.start_secs);
         });
  family("derpprobe_end_secs", "gauge", "When the latest run of the probe ended (Unix time).",
         [&](const char* n, const Entry& e) {
           if (e.has_result) line(n, e.spec, e.end_secs);
         });
  family("derpprobe_result", "gauge", "1 when the latest run of the probe succeeded, else 0.",
         [&](const char* n, const Entry& e) {
           if (e.has_result) line(n, e.spec, e.last.good ? 1 : 0);
         });
  family("derpprobe_latency_millis", "gauge", "How long the latest successful run took.",
         [&](const char* n, const Entry& e) {
           if (e.has_result && e.last.good) line(n, e.spec, e.last.latency_ms);
         });
  family("derpprobe_in_flight", "gauge", "1 while the probe runs.",
         [&](const char* n, const Entry& e) { line(n, e.spec, e.in_flight ? 1 : 0); });
  family("derpprobe_attempts_total", "counter", "Runs of the probe by outcome.",
         [&](const char* n, const Entry& e) {
           line(n, e.spec, static_cast<double>(e.ok), ",status=\"ok\"");
           line(n, e.spec, static_cast<double>(e.fail), ",status=\"fail\"");
         });
  family("derpprobe_seconds_total", "counter", "Time spent in runs of the probe by outcome.",
         [&](const char* n, const Entry& e) {
           line(n, e.spec, e.ok_seconds, ",status=\"ok\"");
           line(n, e.spec, e.fail_seconds, ",status=\"fail\"");
         });
  // derpctl's own: the bw and qd probes' figures (Mbit/s, delay percentiles, losses).
  family("derpctl_probe_figure", "gauge",
         "Figures of the latest run: bw mbit_per_second, qd delay_p50_ms/delay_p99_ms/lost, tls "
         "cert_days_left.",
         [&](const char* n, const Entry& e) {
           if (!e.has_result) return;
           for (const auto& [figure, value] : e.last.figures) {
             line(n, e.spec, value, ",figure=\"" + derp::server::escape_label_value(figure) + "\"");
           }
         });
  return out;
}

}  // namespace derpctl::probe
