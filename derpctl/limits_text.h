// How connection limits read in derpctl's tables (shared by `status` and `limits`).
#pragma once

#include <string>

#include "derpctl/admin_connection.h"

namespace derpctl {

std::string limit_text(std::uint64_t limit);                  // "none" or the number
std::string accept_rate_text(const pb::ConnectionLimits& l);  // "none" or "50/s (burst 100)"
std::string refused_text(const pb::ConnectionLimits& l);      // "0" or "12 (per_ip 10, …)"

}  // namespace derpctl
