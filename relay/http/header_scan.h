// Finds the end of an HTTP request header in raw bytes and enforces limits on the whole header,
// before Beast's parser sees any of it.
//
// Why not Beast's header_limit: Beast 1.74 checks it against the bytes of one parse call, so a
// burst of tiny fields arriving in big reads passes it (12,000 fields were accepted), and each
// field costs the parser an allocation twenty times its size. A stranger could make the node hold
// 1.5 GiB with 1,000 unauthenticated connections. Counting over the whole header, and counting
// lines, bounds what one connection can make the node hold to about max_bytes.
#pragma once

#include <cstddef>
#include <string_view>

namespace derp::http {

struct HeaderLimits {
  std::size_t max_bytes = 16 * 1024;  // request line + fields + the blank line
  std::size_t max_fields = 100;       // Envoy's default; a Tailscale client sends ~6
};

enum class HeaderScanResult {
  kNeedMore,       // no end yet and within the limits: read more
  kComplete,       // the header ends at `length`
  kTooManyBytes,   // 431
  kTooManyFields,  // 431
};

struct HeaderScan {
  HeaderScanResult result = HeaderScanResult::kNeedMore;
  std::size_t length = 0;  // kComplete: bytes up to and including the blank line
  std::size_t fields = 0;  // lines after the request line seen so far
};

// Scans a request as its bytes arrive. Each call gets every byte received so far (the same
// prefix as before, plus more; bytes past the header are allowed) and resumes where the last call
// stopped, so a header trickled in a byte at a time costs linear time. No I/O.
class HeaderScanner {
 public:
  explicit HeaderScanner(HeaderLimits limits = {}) : limits_(limits) {}
  HeaderScan scan(std::string_view bytes);

 private:
  HeaderLimits limits_;
  std::size_t line_start_ = 0;
  std::size_t searched_to_ = 0;  // no line end before this offset except those already counted
  bool request_line_done_ = false;
  HeaderScan state_;
};

}  // namespace derp::http
