#include "relay/main/rate_control.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

#include "relay/files/small_file.h"
#include "relay/limits/rate_config.h"
#include "relay/limits/rate_text.h"
#include "relay/server/admin_queries.h"

namespace derp::main {
namespace {

std::optional<limits::ReceiveRate> read_rate(const std::string& path, std::string& error) {
  auto file = files::read_small_file(path, limits::kMaxRateConfigBytes);
  if (!file.text) {
    error = file.error;
    return std::nullopt;
  }
  auto parsed = limits::parse_rate_config(*file.text);
  if (!parsed.rate) error = path + ": " + parsed.error;
  return parsed.rate;
}

std::string describe(const limits::ReceiveRate& r) {
  if (!r.limited()) return "off (PerClientRateLimitBytesPerSec is 0)";
  return limits::format_rate(r.bytes_per_second) + " per client, burst " +
         std::to_string(r.effective_burst()) + " bytes; mesh peers exempt";
}

}  // namespace

RateControl::RateControl(server::Server& server, std::string path)
    : server_(server), path_(std::move(path)) {
  std::string error;
  auto rate = read_rate(path_, error);
  if (!rate) throw std::runtime_error("--rate-config " + error);
  server_.rate_policy().set_default(*rate);
  spdlog::info("receive limit from {}: {}", path_, describe(*rate));
}

void RateControl::reload() {
  std::string error;
  auto rate = read_rate(path_, error);
  if (!rate) {
    spdlog::error("receive limit not reloaded, the previous one stays: {}", error);
    return;
  }
  server_.rate_policy().set_default(*rate);
  auto applied = server::apply_receive_rates(server_, std::nullopt, std::chrono::seconds(2));
  spdlog::info("receive limit reloaded from {}: {}; {} connection(s) given a new bucket", path_,
               describe(*rate), applied ? std::to_string(*applied) : "not all");
}

}  // namespace derp::main
