// Runs probes with their deadlines: each probe of a round at once, each ended at its deadline
// (0.8 × the interval, as derpprobe) with the step it was at as the reason.
#pragma once

#include <chrono>
#include <vector>

#include "derpctl/probe/probes.h"

namespace derpctl::probe {

struct ProbeReport {
  ProbeSpec spec;
  ProbeOutcome outcome;
  std::chrono::system_clock::time_point start;
  std::chrono::system_clock::time_point end;
};

// Never throws: whatever goes wrong is the report's reason.
boost::asio::awaitable<ProbeReport> run_probe(Executor ex, ProbeSpec spec, ProbeOptions o);

// The reports in the order of `specs`.
boost::asio::awaitable<std::vector<ProbeReport>> run_round(Executor ex,
                                                           std::vector<ProbeSpec> specs,
                                                           ProbeOptions o);

}  // namespace derpctl::probe
