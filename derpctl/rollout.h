// derpctl region rollout (rollout.cc).
#pragma once

#include "derpctl/command.h"

namespace derpctl {

void add_rollout_command(CLI::App& region, Globals& g, Action& action);

}  // namespace derpctl
