// One derpd node: wires the relay core, the HTTP(S) listeners, STUN and certificate reloads
// together from the command-line options, and runs until SIGINT or SIGTERM.
#pragma once

#include "relay/main/options.h"

namespace derp::main {

// Returns the process exit code. Errors are logged with what to do about them.
int run_node(const Options& options);

}  // namespace derp::main
