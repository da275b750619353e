// derpctl region rollout: restart (upgrade, reboot) a region one node at a time without its
// clients noticing. Per node: check the region is healthy, drain the node, wait until its clients
// are on siblings, run the operator's command, wait for the node to answer, undrain it if it kept
// running, and wait for the region to be healthy again. It stops at the first thing that is not.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "derpctl/admin_connection.h"
#include "derpctl/duration_arg.h"
#include "derpctl/output.h"
#include "derpctl/region_health.h"

namespace derpctl {

namespace {

using Clock = std::chrono::steady_clock;

struct RolloutArgs {
  std::vector<std::string> nodes;
  std::string exec;
  std::string deadline = "5m";
  std::optional<double> rate;
  std::string settle = "60s";
  std::string ready = "2m";
};

std::chrono::milliseconds duration_arg(const std::string& flag, const std::string& text) {
  auto d = parse_duration(text);
  if (!d) throw CommandError(flag + " " + text + ": expected a duration like 5m or 90s", kUsage);
  return *d;
}

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit) {
  const auto give_up = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return true;
}

std::string seconds_since(Clock::time_point start) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s",
                std::chrono::duration<double>(Clock::now() - start).count());
  return text;
}

// The keys of the node's clients, mesh peers left out; nullopt when the node cannot be asked.
std::optional<std::set<std::string>> client_keys(const Globals& g, const std::string& admin) {
  try {
    AdminConnection conn(g, admin);
    pb::ListClientsRequest req;
    req.set_page_size(10000);
    std::set<std::string> keys;
    for (;;) {
      pb::ListClientsResponse resp;
      auto ctx = conn.context();
      if (!conn.stub().ListClients(ctx.get(), req, &resp).ok()) return std::nullopt;
      for (const auto& c : resp.clients()) {
        if (!c.mesh_peer()) keys.insert(c.key());
      }
      if (resp.next_page_token().empty()) return keys;
      req.set_page_token(resp.next_page_token());
    }
  } catch (const CommandError&) {
    return std::nullopt;
  }
}

void drain(const Globals& g, const std::string& admin, const RolloutArgs& a) {
  AdminConnection conn(g, admin);
  pb::DrainRequest req;
  set_duration(*req.mutable_deadline(), duration_arg("--deadline", a.deadline));
  if (a.rate) req.set_clients_per_second(*a.rate);
  req.set_send_restarting(true);
  auto ctx = conn.context(true);
  auto reader = conn.stub().Drain(ctx.get(), req);
  pb::DrainProgress p;
  while (reader->Read(&p)) {
  }
  conn.check(reader->Finish(), "Drain");
}

class Progress {
 public:
  Progress(std::size_t index, std::size_t count, std::string node)
      : prefix_("[" + std::to_string(index + 1) + "/" + std::to_string(count) + "] " + node +
                ": ") {}
  void say(const std::string& text) const { std::cout << prefix_ << text << std::endl; }
  [[noreturn]] void stop(const std::string& why, int code) const {
    throw CommandError(prefix_ + why + "; stopping the rollout here", code);
  }

 private:
  std::string prefix_;
};

void roll_node(const Globals& g, const RolloutArgs& a, std::size_t i) {
  const std::string& node = a.nodes[i];
  const Progress out(i, a.nodes.size(), node);
  const auto started = Clock::now();
  const auto ready_limit = duration_arg("--ready-timeout", a.ready);
  if (auto problem = region_problem(ask_region(g, a.nodes)); !problem.empty()) {
    out.stop("the region is not healthy before this node (" + problem + ")", kCheckFailed);
  }
  auto keys = client_keys(g, node);
  if (!keys) out.stop("cannot list its clients", kError);
  out.say("draining; " + std::to_string(keys->size()) + " client(s) to move");
  drain(g, node, a);

  std::vector<std::string> siblings;
  for (const auto& n : a.nodes) {
    if (n != node) siblings.push_back(n);
  }
  std::size_t moved = 0;
  const bool all_moved = wait_until(
      [&] {
        std::set<std::string> elsewhere;
        for (const auto& s : siblings) {
          if (auto k = client_keys(g, s)) elsewhere.insert(k->begin(), k->end());
        }
        moved = 0;
        for (const auto& k : *keys) moved += elsewhere.count(k);
        return moved == keys->size();
      },
      duration_arg("--settle-timeout", a.settle));
  out.say("drained; " + std::to_string(moved) + " of " + std::to_string(keys->size()) +
          " client(s) on siblings after " + seconds_since(started) +
          (all_moved ? "" : " (the others left the region or have not reconnected yet)"));

  if (!a.exec.empty()) {
    out.say("running: " + a.exec);
    ::setenv("DERPCTL_NODE", node.c_str(), 1);
    int rc = std::system(a.exec.c_str());
    if (rc != 0) {
      out.stop("the command exited with status " + std::to_string(rc) +
                   "; the node stays drained (derpctl undrain puts it back)",
               kError);
    }
  }
  std::optional<pb::NodeStatus> status;
  if (!wait_until(
          [&] {
            status = ask(g, node).status;
            return status.has_value();
          },
          ready_limit)) {
    out.stop("does not answer " + a.ready + " after the command", kCheckFailed);
  }
  if (status->drain().state() == pb::DRAIN_STATE_SERVING) {
    out.say("serving again (restarted)");
  } else {
    AdminConnection conn(g, node);
    pb::UndrainResponse resp;
    auto ctx = conn.context();
    conn.check(conn.stub().Undrain(ctx.get(), {}, &resp), "Undrain");
    out.say("undrained");
  }
  std::string problem;
  if (!wait_until(
          [&] {
            problem = region_problem(ask_region(g, a.nodes));
            return problem.empty();
          },
          ready_limit)) {
    out.stop("the region is not healthy " + a.ready + " after this node (" + problem + ")",
             kCheckFailed);
  }
  out.say("done in " + seconds_since(started) + "; the region is healthy");
}

int run_rollout(const Globals& g, const RolloutArgs& a) {
  const auto started = Clock::now();
  for (std::size_t i = 0; i < a.nodes.size(); ++i) roll_node(g, a, i);
  std::cout << "rolled out " << a.nodes.size() << " node(s) in " << seconds_since(started)
            << std::endl;
  return kOk;
}

}  // namespace

void add_rollout_command(CLI::App& region, Globals& g, Action& action) {
  auto a = std::make_shared<RolloutArgs>();
  auto* cmd = region.add_subcommand(
      "rollout",
      "Restart a region one node at a time without its clients noticing: for each --node in "
      "turn, check the region is healthy, drain the node, wait for its clients to reach "
      "siblings, run --exec, wait for the node to answer, undrain it if it kept running, and wait "
      "for the region to be healthy again. Stops (exit 3, or 1 if --exec failed) at the first "
      "node where something is not");
  cmd->add_option("--node", a->nodes,
                  "Admin address of a node (unix:PATH or HOST:PORT), in the order to roll; "
                  "give every node of the region")
      ->required();
  cmd->add_option("--exec", a->exec,
                  "Shell command run while the node is drained, e.g. 'ssh derp1 sudo systemctl "
                  "restart derpd'; $DERPCTL_NODE names the node. Without it the nodes are only "
                  "drained and undrained (a rehearsal)");
  cmd->add_option("--deadline", a->deadline, "Each node's drain deadline (default 5m)");
  cmd->add_option("--rate", a->rate, "Clients per second each drain moves (default: derpd's)");
  cmd->add_option("--settle-timeout", a->settle,
                  "How long to wait for a drained node's clients to show up on siblings "
                  "(default 60s)");
  cmd->add_option("--ready-timeout", a->ready,
                  "How long a node may take to answer again, and the region to be healthy "
                  "(default 2m)");
  cmd->callback([&g, &action, a] { action = [&g, a] { return run_rollout(g, *a); }; });
}

}  // namespace derpctl
