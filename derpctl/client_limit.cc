// derpctl client limit: how fast one client may send (protocol §4.7). Sets, exempts or resets a
// node key's receive limit on the node, or lists the node's default and every override. A
// limited client is slowed (the node stops reading from it for a while), never dropped.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "derpctl/admin_connection.h"
#include "derpctl/output.h"
#include "relay/limits/rate_text.h"

namespace derpctl {
namespace {

struct LimitArgs {
  std::string key, rate, burst;
};

std::string limit_text(const pb::ReceiveLimit& l) {
  if (l.bytes_per_sec() == 0) return "unlimited";
  return derp::limits::format_rate(l.bytes_per_sec()) + " (burst " + format_bytes(l.burst_bytes()) +
         ")";
}

void print_limits(const Globals& g, const pb::ClientRateLimits& r, const std::string& done) {
  if (g.output != Output::kTable) {
    std::cout << to_json(r).dump(g.output == Output::kJson ? 2 : -1) << '\n';
    return;
  }
  if (!done.empty()) {
    std::cout << done << " (" << r.connections_changed()
              << " connection(s) now; not kept across a restart)\n";
  }
  std::cout << "default: "
            << (r.default_limit().bytes_per_sec() == 0 ? std::string("none")
                                                       : limit_text(r.default_limit()))
            << (r.rate_config().empty() ? "" : ", from " + r.rate_config()) << '\n';
  if (r.overrides().empty()) {
    std::cout << "no per-client limits\n";
    return;
  }
  Table t({"KEY", "LIMIT"});
  for (const auto& o : r.overrides()) t.add({o.key(), limit_text(o.limit())});
  t.print(std::cout);
}

int run_limit(const Globals& g, const LimitArgs& a) {
  AdminConnection conn(g, g.admin);
  pb::ClientRateLimits out;
  auto ctx = conn.context();
  if (a.key.empty()) {
    conn.check(conn.stub().ListClientRateLimits(ctx.get(), {}, &out), "ListClientRateLimits");
    print_limits(g, out, "");
    return kOk;
  }
  if (a.rate.empty()) {
    throw CommandError("give the rate after the key: 5MB/s, 40Mbit/s, unlimited or default",
                       kUsage);
  }
  pb::ClientRateLimitChange req;
  req.set_key(a.key);
  std::string done;
  if (a.rate == "default") {
    req.set_mode(pb::ClientRateLimitChange::MODE_DEFAULT);
    done = a.key + " is back to the node's default";
  } else if (a.rate == "unlimited" || a.rate == "none") {
    req.set_mode(pb::ClientRateLimitChange::MODE_UNLIMITED);
    done = a.key + " is not limited";
  } else {
    auto rate = derp::limits::parse_rate_text(a.rate);
    if (!rate) {
      throw CommandError(
          "rate \"" + a.rate + "\": expected e.g. 5MB/s, 512KiB/s, 40Mbit/s, unlimited or default",
          kUsage);
    }
    req.set_mode(pb::ClientRateLimitChange::MODE_LIMIT);
    req.set_bytes_per_sec(*rate);
    if (!a.burst.empty()) {
      // A burst is an amount, written like a rate without "/s".
      auto burst = derp::limits::parse_rate_text(a.burst);
      if (!burst) throw CommandError("--burst \"" + a.burst + "\": expected e.g. 256KB", kUsage);
      req.set_burst_bytes(*burst);
    }
    done = a.key + " limited to " + derp::limits::format_rate(*rate);
  }
  conn.check(conn.stub().SetClientRateLimit(ctx.get(), req, &out), "SetClientRateLimit");
  print_limits(g, out, done);
  return kOk;
}

}  // namespace

void add_client_limit_command(CLI::App& client, Globals& g, Action& action) {
  auto a = std::make_shared<LimitArgs>();
  auto* limit = client.add_subcommand(
      "limit",
      "How fast KEY may send: `client limit KEY 5MB/s` (also KiB/s, Mbit/s…), `unlimited` to "
      "exempt it from the node's --rate-config, `default` to undo. Applies at once and to its "
      "later connections, until the node restarts; a limited client is slowed, never dropped. "
      "Without KEY: the node's default and every per-client limit");
  limit->add_option("KEY", a->key, "nodekey:<64 hex>");
  limit->add_option("RATE", a->rate,
                    "bytes per second: 5MB/s, 512KiB/s, 40Mbit/s, unlimited, default");
  limit->add_option("--burst", a->burst,
                    "What KEY may send at once above the rate (default and minimum 65568 bytes)");
  limit->callback([&g, &action, a] { action = [&g, a] { return run_limit(g, *a); }; });
}

}  // namespace derpctl
