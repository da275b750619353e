// What every derpctl command shares: the global options, the exit codes and how a command reports
// failure. Each command group registers its subcommands with one add_*_commands function.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

namespace CLI {
class App;
}

namespace derpctl {

enum ExitCode : int { kOk = 0, kError = 1, kUsage = 2, kCheckFailed = 3 };

enum class Output { kTable, kJson, kJsonl };

struct Globals {
  std::string admin = "unix:/run/derpd/admin.sock";
  std::string token_file;
  std::string tls_ca, tls_cert, tls_key;
  std::string tls_server_name;
  Output output = Output::kTable;
  double timeout_s = 10;
};

// A failure with the text to print on stderr (already saying what to do) and the exit code.
class CommandError : public std::runtime_error {
 public:
  CommandError(std::string message, int code = kError)
      : std::runtime_error(std::move(message)), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// The command chosen on the command line; set by the subcommand's callback, run after parsing.
using Action = std::function<int()>;

void add_status_commands(CLI::App& app, Globals& g, Action& action);
void add_client_commands(CLI::App& app, Globals& g, Action& action);
// `client limit`, under the `client` command that add_client_commands creates.
void add_client_limit_command(CLI::App& client, Globals& g, Action& action);
void add_mesh_commands(CLI::App& app, Globals& g, Action& action);
void add_drain_commands(CLI::App& app, Globals& g, Action& action);
void add_region_commands(CLI::App& app, Globals& g, Action& action);
void add_limits_commands(CLI::App& app, Globals& g, Action& action);
void add_admit_commands(CLI::App& app, Globals& g, Action& action);
void add_cert_commands(CLI::App& app, Globals& g, Action& action);
// `probe`: needs no admin API (derpctl/probe/).
void add_probe_command(CLI::App& app, Globals& g, Action& action);

}  // namespace derpctl
