// Where `derpctl probe --derp-map` gets its map: a file (PATH or file://PATH) or an http(s) URL
// such as a control server's /derpmap/default. Fetched again every round, as derpprobe does.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "derpctl/probe/derp_map.h"
#include "derpctl/probe/probes.h"

namespace derpctl::probe {

boost::asio::awaitable<DerpMapResult> load_derp_map(Executor ex, std::string where,
                                                    std::string ca_file,
                                                    std::chrono::milliseconds timeout);

// derpprobe's rule for a failed fetch: keep probing with the last good map while it is younger
// than 10 minutes.
inline constexpr std::chrono::minutes kMapReuseLimit{10};

class MapKeeper {
 public:
  // The map to probe with after a load that gave `fresh`; nullopt when there is none.
  std::optional<DerpMap> after_load(const DerpMapResult& fresh,
                                    std::chrono::steady_clock::time_point now);

 private:
  std::optional<DerpMap> last_;
  std::chrono::steady_clock::time_point loaded_at_{};
};

}  // namespace derpctl::probe
