// derpctl admit: the node's own admission rules (--admit-file): list them, allow or deny a node
// key or an address range, remove a rule. Changes are written to the node's file; a deny also
// closes the connected clients it matches.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "derpctl/admin_connection.h"
#include "derpctl/output.h"

namespace derpctl {

namespace {

void print_rules(const Globals& g, const pb::AdmitRules& r, const std::string& done) {
  if (g.output != Output::kTable) {
    nlohmann::json j;
    j["rules"] = std::vector<std::string>(r.rules().begin(), r.rules().end());
    j["file"] = r.file();
    j["closed"] = r.closed();
    std::cout << (g.output == Output::kJson ? j.dump(2) : j.dump()) << '\n';
    return;
  }
  if (!done.empty()) {
    std::cout << done;
    if (r.closed()) std::cout << "; closed " << r.closed() << " connected client(s)";
    std::cout << "; saved to " << r.file() << '\n';
  }
  if (r.rules().empty()) {
    std::cout << "no rules in " << r.file() << ": everyone passes to the other checks\n";
    return;
  }
  Table t({"RULE", "TARGET"});
  for (const auto& rule : r.rules()) {
    auto space = rule.find(' ');
    t.add({rule.substr(0, space), rule.substr(space + 1)});
  }
  t.print(std::cout);
}

int run_list(const Globals& g) {
  AdminConnection conn(g, g.admin);
  pb::AdmitRules r;
  auto ctx = conn.context();
  conn.check(conn.stub().ListAdmitRules(ctx.get(), {}, &r), "ListAdmitRules");
  print_rules(g, r, "");
  return kOk;
}

int run_change(const Globals& g, pb::AdmitRuleChange::Action action, const std::string& target) {
  AdminConnection conn(g, g.admin);
  pb::AdmitRuleChange req;
  req.set_action(action);
  req.set_target(target);
  pb::AdmitRules r;
  auto ctx = conn.context();
  conn.check(conn.stub().ChangeAdmitRule(ctx.get(), req, &r), "ChangeAdmitRule");
  const char* verb = action == pb::AdmitRuleChange::ACTION_ALLOW  ? "allowed "
                     : action == pb::AdmitRuleChange::ACTION_DENY ? "denied "
                                                                  : "removed the rule for ";
  print_rules(g, r, verb + target);
  return kOk;
}

int run_recent(const Globals& g) {
  AdminConnection conn(g, g.admin);
  pb::RecentRefusalsResponse r;
  auto ctx = conn.context();
  conn.check(conn.stub().RecentRefusals(ctx.get(), {}, &r), "RecentRefusals");
  if (g.output != Output::kTable) {
    auto arr = nlohmann::json::array();
    for (const auto& f : r.refusals()) {
      arr.push_back({{"key", f.key()},
                     {"source", f.source()},
                     {"reason", f.reason()},
                     {"at", format_time(f.at())}});
    }
    if (g.output == Output::kJson) {
      std::cout << arr.dump(2) << '\n';
    } else {
      for (const auto& f : arr) std::cout << f.dump() << '\n';
    }
    return kOk;
  }
  if (r.refusals().empty()) {
    std::cout << "nobody was refused since the node started\n";
    return kOk;
  }
  Table t({"WHEN", "KEY", "SOURCE", "REASON"});
  for (const auto& f : r.refusals()) {
    t.add({format_age(f.at()), f.key(), f.source().empty() ? "-" : f.source(), f.reason()});
  }
  t.print(std::cout);
  return kOk;
}

}  // namespace

void add_admit_commands(CLI::App& app, Globals& g, Action& action) {
  auto* cmd = app.add_subcommand(
      "admit",
      "The node's own admission rules (derpd --admit-file): node keys and address ranges to "
      "allow or deny. Without a subcommand, lists them");
  cmd->callback([cmd, &g, &action] {
    if (cmd->get_subcommands().empty()) action = [&g] { return run_list(g); };
  });
  auto target = std::make_shared<std::string>();
  const std::string what = "nodekey:<64 hex>, an address, or an address range (192.0.2.0/24)";
  struct Sub {
    const char* name;
    pb::AdmitRuleChange::Action action;
    const char* help;
  };
  auto* recent = cmd->add_subcommand(
      "recent",
      "The last 100 clients admission refused (rules, tailscaled, the controller), "
      "with their address and the reason, oldest first");
  recent->callback([&g, &action] { action = [&g] { return run_recent(g); }; });
  for (const Sub& s :
       {Sub{"allow", pb::AdmitRuleChange::ACTION_ALLOW,
            "Admit this node or range without asking tailscaled or the controller (replaces a "
            "deny for the same target)"},
        Sub{"deny", pb::AdmitRuleChange::ACTION_DENY,
            "Refuse this node or range from now on, and close its connected clients"},
        Sub{"remove", pb::AdmitRuleChange::ACTION_REMOVE, "Delete the rule for this target"}}) {
    auto* sub = cmd->add_subcommand(s.name, s.help);
    sub->add_option("target", *target, what)->required();
    sub->callback([&g, &action, target, a = s.action] {
      action = [&g, target, a] { return run_change(g, a, *target); };
    });
  }
}

}  // namespace derpctl
