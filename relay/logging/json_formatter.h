// --log-format json: one JSON object per line, for log pipelines (journald's JSON export, Loki,
// Elasticsearch) that should not parse free text:
//   {"time":"2026-12-01T13:25:28.123Z","level":"info","msg":"derpd 1.0 ready: …"}
// The message is escaped as JSON (bytes that are not UTF-8 become U+FFFD), so a line can never
// be broken or forged by what a client sent.
#pragma once

#include <spdlog/formatter.h>

#include <memory>

namespace derp::logging {

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace derp::logging
