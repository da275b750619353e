// derpd: one DERP relay node. This file only wires modules together; see node.cc.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <exception>

#include "relay/logging/json_formatter.h"
#include "relay/main/node.h"
#include "relay/main/options.h"
#include "relay/tls/allocator_tuning.h"

int main(int argc, char** argv) {
  derp::tls::tune_allocator_for_tls_buffers();
  auto parsed = derp::main::parse_command_line(argc, argv);
  if (parsed.should_exit) return parsed.exit_code;
  spdlog::set_default_logger(spdlog::stderr_color_mt("derpd"));
  if (parsed.options.log_format == "json") {
    spdlog::set_formatter(std::make_unique<derp::logging::JsonFormatter>());
  }
  spdlog::set_level(spdlog::level::from_str(parsed.options.log_level));
  try {
    return derp::main::run_node(parsed.options);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
