// What `derpctl probe` remembers between rounds, and the Prometheus text it serves from it, with
// derpprobe's metric and label names (protocol §10) so that dashboards and alerts written for
// derpprobe work unchanged. Pure: no I/O, no clock.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "derpctl/probe/probe_runner.h"

namespace derpctl::probe {

class ProbeBook {
 public:
  explicit ProbeBook(std::chrono::seconds interval) : interval_(interval) {}

  // A probe about to run: derpprobe_in_flight is 1 until its report arrives.
  void started(const ProbeSpec& spec);
  void record(const ProbeReport& report);
  // Probes of nodes no longer in the map disappear from the metrics.
  void keep_only(const std::vector<ProbeSpec>& planned);

  // derpprobe_result, _latency_millis, _interval_secs, _start_secs, _end_secs, _in_flight,
  // _attempts_total{status}, _seconds_total{status}, and derpctl's own figures of bw and qd.
  std::string metrics_text() const;
  // Whether the latest result of every probe is good (and there is at least one).
  bool all_good() const;

 private:
  struct Entry {
    ProbeSpec spec;
    bool has_result = false;
    bool in_flight = false;
    ProbeOutcome last;
    double start_secs = 0, end_secs = 0;
    std::uint64_t ok = 0, fail = 0;
    double ok_seconds = 0, fail_seconds = 0;
  };
  std::chrono::seconds interval_;
  std::map<std::string, Entry> entries_;  // by probe name: stable output order
};

}  // namespace derpctl::probe
