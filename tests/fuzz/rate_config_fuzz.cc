// libFuzzer target: a --rate-config file (operators write it by hand; derper's format) and a rate
// as `derpctl client limit` reads it. Either parses or says why; a parsed rate must survive
// formatting and a bucket must give finite waits for it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "relay/limits/rate_config.h"
#include "relay/limits/rate_text.h"
#include "relay/limits/receive_rate.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace derp::limits;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = parse_rate_config(text);
  if (config.rate.has_value() == !config.error.empty()) __builtin_trap();
  if (config.rate && config.rate->limited()) {
    const auto t0 = ReceiveBucket::Clock::time_point{};
    ReceiveBucket bucket(*config.rate, t0);
    bucket.take(size);
    bucket.take(~std::uint64_t{0});
    if (bucket.owed_wait().count() < 0) __builtin_trap();
  }
  if (auto rate = parse_rate_text(text)) {
    if (*rate == 0) __builtin_trap();
    (void)format_rate(*rate);
  }
  return 0;
}
