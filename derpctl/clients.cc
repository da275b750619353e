// derpctl clients, client show, client close (client limit is in client_limit.cc).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>

#include "derpctl/admin_connection.h"
#include "derpctl/output.h"
#include "relay/limits/rate_text.h"

namespace derpctl {
namespace {

struct ListArgs {
  std::string key_prefix, remote_ip, sort = "connected";
  bool descending = false, mesh_only = false, watch = false;
  std::uint32_t limit = 0;  // 0: every client
};

std::string transport_text(pb::Transport t) {
  switch (t) {
    case pb::TRANSPORT_HTTP:
      return "http";
    case pb::TRANSPORT_TLS:
      return "tls";
    case pb::TRANSPORT_WEBSOCKET:
      return "websocket";
    default:
      return "?";
  }
}

std::string flags_text(const pb::Client& c) {
  std::string f;
  auto add = [&](bool on, const char* name) {
    if (on) f += (f.empty() ? "" : ",") + std::string(name);
  };
  add(c.home(), "home");
  add(c.prober(), "prober");
  add(c.mesh_peer(), "mesh");
  add(c.duplicate(), "dup");
  add(c.watcher(), "watcher");
  return f.empty() ? "-" : f;
}

bool has_receive_limit(const pb::Client& c) {
  return c.receive_limit().bytes_per_sec() > 0 || c.receive_limit_overridden();
}

// "-", "1 MB/s", or "1 MB/s (set)" when `derpctl client limit` chose it for this key.
std::string receive_limit_text(const pb::Client& c) {
  std::string t = c.receive_limit().bytes_per_sec() == 0
                      ? (c.receive_limit_overridden() ? "unlimited" : "-")
                      : derp::limits::format_rate(c.receive_limit().bytes_per_sec());
  return c.receive_limit_overridden() ? t + " (set)" : t;
}

// The same, narrow enough for a table row to fit a terminal: "1MB/s", "1MB/s*", "off*".
std::string receive_limit_cell(const pb::Client& c) {
  std::string t = derp::limits::format_rate(c.receive_limit().bytes_per_sec());
  t.erase(std::remove(t.begin(), t.end(), ' '), t.end());
  if (c.receive_limit().bytes_per_sec() == 0) t = c.receive_limit_overridden() ? "off" : "-";
  return c.receive_limit_overridden() ? t + "*" : t;
}

int watch(const Globals& g, AdminConnection& conn) {
  auto ctx = conn.context(true);
  auto reader = conn.stub().WatchClients(ctx.get(), {});
  // derpd subscribes before it sends headers, so from here on no event is missed; saying so on
  // stderr (in every output mode) lets a script start what it wants to watch without guessing.
  reader->WaitForInitialMetadata();
  std::cerr << "watching client events; Ctrl-C stops" << std::endl;
  pb::ClientEvent e;
  while (reader->Read(&e)) {
    if (g.output != Output::kTable) {
      std::cout << to_json(e).dump() << std::endl;
      continue;
    }
    std::string what;
    switch (e.kind()) {
      case pb::ClientEvent::KIND_CONNECTED:
        what = "connected";
        break;
      case pb::ClientEvent::KIND_DISCONNECTED:
        what = "disconnected (" + e.reason() + ")";
        break;
      case pb::ClientEvent::KIND_HOME_CHANGED:
        what = e.home() ? "home: here" : "home: elsewhere";
        break;
      default:
        what = "?";
    }
    std::cout << format_time(e.time()) << "  " << e.key() << "  " << e.remote_addr() << "  " << what
              << std::endl;
  }
  conn.check(reader->Finish(), "WatchClients");
  return kOk;
}

int run_clients(const Globals& g, const ListArgs& a) {
  AdminConnection conn(g, g.admin);
  if (a.watch) return watch(g, conn);
  static const std::map<std::string, pb::ClientSort> sorts{
      {"connected", pb::CLIENT_SORT_CONNECTED_AT}, {"key", pb::CLIENT_SORT_KEY},
      {"remote", pb::CLIENT_SORT_REMOTE},          {"bytes", pb::CLIENT_SORT_BYTES},
      {"packets", pb::CLIENT_SORT_PACKETS},        {"activity", pb::CLIENT_SORT_LAST_ACTIVITY},
      {"queue", pb::CLIENT_SORT_QUEUE_DEPTH}};
  pb::ListClientsRequest req;
  req.set_key_prefix(a.key_prefix);
  req.set_remote_ip(a.remote_ip);
  req.set_sort(sorts.at(a.sort));
  req.set_descending(a.descending);
  req.set_mesh_peers_only(a.mesh_only);
  std::vector<pb::Client> all;
  std::uint64_t total = 0;
  for (;;) {
    std::uint32_t want =
        a.limit == 0 ? 10000 : std::min<std::uint32_t>(10000, a.limit - all.size());
    req.set_page_size(want);
    pb::ListClientsResponse resp;
    auto ctx = conn.context();
    conn.check(conn.stub().ListClients(ctx.get(), req, &resp), "ListClients");
    total = resp.total_matching();
    for (auto& c : *resp.mutable_clients()) all.push_back(std::move(c));
    if (resp.next_page_token().empty() || (a.limit != 0 && all.size() >= a.limit)) break;
    req.set_page_token(resp.next_page_token());
  }
  if (g.output == Output::kJson) {
    auto arr = nlohmann::json::array();
    for (const auto& c : all) arr.push_back(to_json(c));
    std::cout << arr.dump(2) << '\n';
    return kOk;
  }
  if (g.output == Output::kJsonl) {
    for (const auto& c : all) std::cout << to_json(c).dump() << '\n';
    return kOk;
  }
  // The receive limit gets a column only when some client has one: most nodes never set any.
  const bool limits_shown = std::any_of(all.begin(), all.end(), has_receive_limit);
  std::vector<std::string> headers{"KEY",       "REMOTE",  "TRANSPORT", "CONNECTED",
                                   "FLAGS",     "PKTS IN", "PKTS OUT",  "BYTES IN",
                                   "BYTES OUT", "DROPS",   "QUEUE"};
  if (limits_shown) headers.push_back("LIMIT");
  headers.push_back("LAST ACTIVE");
  Table t(headers);
  std::vector<std::string> keys;
  for (const auto& c : all) keys.push_back(c.key());
  const auto shown = unique_key_prefixes(keys);
  bool any_set = false;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& c = all[i];
    std::vector<std::string> row{shown[i],
                                 c.remote_addr(),
                                 transport_text(c.transport()),
                                 format_age(c.connected_at()),
                                 flags_text(c),
                                 std::to_string(c.packets_in()),
                                 std::to_string(c.packets_out()),
                                 format_bytes(c.bytes_in()),
                                 format_bytes(c.bytes_out()),
                                 std::to_string(c.drops()),
                                 std::to_string(c.queue_depth())};
    if (limits_shown) row.push_back(receive_limit_cell(c));
    row.push_back(format_age(c.last_activity()));
    any_set = any_set || c.receive_limit_overridden();
    t.add(std::move(row));
  }
  t.print(std::cout);
  if (any_set) std::cout << "LIMIT*: set for that key with `derpctl client limit`\n";
  std::cout << all.size() << " of " << total << " clients\n";
  return kOk;
}

int run_show(const Globals& g, const std::string& key) {
  AdminConnection conn(g, g.admin);
  pb::GetClientRequest req;
  req.set_key(key);
  pb::GetClientResponse resp;
  auto ctx = conn.context();
  conn.check(conn.stub().GetClient(ctx.get(), req, &resp), "GetClient");
  if (g.output == Output::kJson) {
    std::cout << to_json(resp).dump(2) << '\n';
    return kOk;
  }
  if (g.output == Output::kJsonl) {
    for (const auto& c : resp.connections()) std::cout << to_json(c).dump() << '\n';
    return kOk;
  }
  bool first = true;
  for (const auto& c : resp.connections()) {
    if (!first) std::cout << '\n';
    first = false;
    Table t({"FIELD", "VALUE"});
    t.add({"key", c.key()});
    t.add({"connection", std::to_string(c.conn_id())});
    t.add({"remote", c.remote_addr()});
    t.add({"transport", transport_text(c.transport())});
    t.add({"connected", format_time(c.connected_at()) + " (" + format_age(c.connected_at()) + ")"});
    t.add({"home here", c.home() ? "yes" : "no"});
    t.add({"prober", c.prober() ? "yes" : "no"});
    t.add({"mesh peer", c.mesh_peer() ? "yes" : "no"});
    t.add({"duplicate", c.duplicate() ? "yes" : "no"});
    t.add({"packets in/out",
           std::to_string(c.packets_in()) + " / " + std::to_string(c.packets_out())});
    t.add({"bytes in/out", format_bytes(c.bytes_in()) + " / " + format_bytes(c.bytes_out())});
    t.add({"drops", std::to_string(c.drops())});
    for (const auto& [reason, n] : c.drops_by_reason()) t.add({"  " + reason, std::to_string(n)});
    t.add({"queue depth", std::to_string(c.queue_depth())});
    t.add({"receive limit", receive_limit_text(c)});
    t.add({"last activity", format_age(c.last_activity())});
    t.print(std::cout);
  }
  return kOk;
}

int run_close(const Globals& g, const std::string& key, const std::string& reason) {
  AdminConnection conn(g, g.admin);
  pb::CloseClientRequest req;
  req.set_key(key);
  req.set_reason(reason);
  pb::CloseClientResponse resp;
  auto ctx = conn.context();
  conn.check(conn.stub().CloseClient(ctx.get(), req, &resp), "CloseClient");
  if (g.output != Output::kTable) {
    std::cout << to_json(resp).dump(g.output == Output::kJson ? 2 : -1) << '\n';
  } else {
    std::cout << "closed " << resp.closed() << " connection(s) of " << key << '\n';
  }
  return kOk;
}

}  // namespace

void add_client_commands(CLI::App& app, Globals& g, Action& action) {
  auto a = std::make_shared<ListArgs>();
  auto* list = app.add_subcommand("clients", "List connected clients (or --watch events)");
  list->add_option("--key", a->key_prefix, "Only keys starting with this (nodekey:ab12 or ab12)");
  list->add_option("--ip", a->remote_ip, "Only clients from this IP");
  list->add_option("--sort", a->sort, "connected, key, remote, bytes, packets, activity, queue")
      ->check(
          CLI::IsMember({"connected", "key", "remote", "bytes", "packets", "activity", "queue"}))
      ->capture_default_str();
  list->add_flag("--desc", a->descending, "Sort descending");
  list->add_flag("--mesh", a->mesh_only, "Only mesh peers");
  list->add_option("--limit", a->limit, "At most this many (default: all)");
  list->add_flag("-w,--watch", a->watch,
                 "Stream connect / disconnect / home-change events until interrupted");
  list->callback([&g, &action, a] { action = [&g, a] { return run_clients(g, *a); }; });

  auto* client = app.add_subcommand("client", "One client: show, close or limit");
  client->require_subcommand(1);
  auto show_key = std::make_shared<std::string>();
  auto* show = client->add_subcommand("show", "Show every connection of KEY");
  show->add_option("KEY", *show_key, "nodekey:<64 hex>")->required();
  show->callback(
      [&g, &action, show_key] { action = [&g, show_key] { return run_show(g, *show_key); }; });

  auto close_key = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  auto* close = client->add_subcommand("close", "Close every connection of KEY");
  close->add_option("KEY", *close_key, "nodekey:<64 hex>")->required();
  close->add_option("--reason", *reason, "Why (logged and shown to watchers)");
  close->callback([&g, &action, close_key, reason] {
    action = [&g, close_key, reason] { return run_close(g, *close_key, *reason); };
  });
  add_client_limit_command(*client, g, action);
}

}  // namespace derpctl
