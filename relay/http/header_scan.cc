#include "relay/http/header_scan.h"

#include <algorithm>

namespace derp::http {

HeaderScan HeaderScanner::scan(std::string_view bytes) {
  if (state_.result != HeaderScanResult::kNeedMore) return state_;
  // Only the first max_bytes can belong to an acceptable header.
  const std::string_view window = bytes.substr(0, limits_.max_bytes);
  for (;;) {
    const std::size_t eol = window.find("\r\n", std::max(line_start_, searched_to_));
    if (eol == std::string_view::npos) {
      // Next time, search only the new bytes (and a "\r" that may end this call's bytes).
      searched_to_ = window.empty() ? 0 : window.size() - 1;
      break;
    }
    if (eol == line_start_ && request_line_done_) {
      state_.result = HeaderScanResult::kComplete;
      state_.length = eol + 2;
      return state_;
    }
    // Empty lines before the request line are skipped (RFC 9112 §2.2).
    if (eol != line_start_) {
      if (request_line_done_ && ++state_.fields > limits_.max_fields) {
        state_.result = HeaderScanResult::kTooManyFields;
        return state_;
      }
      request_line_done_ = true;
    }
    line_start_ = eol + 2;
  }
  if (bytes.size() >= limits_.max_bytes) state_.result = HeaderScanResult::kTooManyBytes;
  return state_;
}

}  // namespace derp::http
