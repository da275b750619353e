// derpctl: the operator's CLI for derpd's admin API. Global options come before the command.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "derpctl/command.h"

int main(int argc, char** argv) {
  using namespace derpctl;
  Globals g;
  Action action;
  CLI::App app{
      "derpctl: look at and control derpd nodes through their admin API.\n"
      "Exit codes: 0 ok, 1 error, 2 usage, 3 check failed.",
      "derpctl"};
  app.get_formatter()->column_width(30);
  if (const char* env = std::getenv("DERPCTL_ADMIN"); env && *env) g.admin = env;
  app.add_option("--admin", g.admin,
                 "Admin API of the node: unix:PATH or HOST:PORT (default $DERPCTL_ADMIN or "
                 "unix:/run/derpd/admin.sock)")
      ->capture_default_str();
  app.add_option("--token-file", g.token_file, "Bearer token for a TCP admin listener");
  app.add_option("--tls-ca", g.tls_ca, "CA (PEM) to verify a TLS admin listener");
  app.add_option("--tls-cert", g.tls_cert, "Client certificate (PEM) for mTLS");
  app.add_option("--tls-key", g.tls_key, "Client key (PEM) for mTLS");
  app.add_option("--tls-server-name", g.tls_server_name, "Name to verify instead of the host");
  app.add_option("--timeout", g.timeout_s, "Seconds to wait for each call")->capture_default_str();
  std::map<std::string, Output> outputs{
      {"table", Output::kTable}, {"json", Output::kJson}, {"jsonl", Output::kJsonl}};
  app.add_option("-o,--output", g.output, "table, json or jsonl")
      ->transform(CLI::CheckedTransformer(outputs, CLI::ignore_case));
  app.require_subcommand(1);

  add_status_commands(app, g, action);
  add_client_commands(app, g, action);
  add_mesh_commands(app, g, action);
  add_drain_commands(app, g, action);
  add_region_commands(app, g, action);
  add_limits_commands(app, g, action);
  add_admit_commands(app, g, action);
  add_cert_commands(app, g, action);
  add_probe_command(app, g, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }
  if (!action) {
    std::cerr << "derpctl: no command given; see derpctl --help\n";
    return kUsage;
  }
  try {
    return action();
  } catch (const CommandError& e) {
    std::cout.flush();
    std::cerr << "derpctl: " << e.what() << '\n';
    return e.code();
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "derpctl: " << e.what() << '\n';
    return kError;
  }
}
