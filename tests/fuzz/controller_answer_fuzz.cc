// libFuzzer target: an admission controller's answer (--verify-client-url) and tailscaled's
// whois answer, as derpd judges them. The first two bytes pick the HTTP status.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "relay/admission/controller_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const unsigned status = 100u + (static_cast<unsigned>(data[0]) << 8 | data[1]) % 500u;
  std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  auto verdict = derp::admission::controller_verdict(status, body);
  // Admission needs a 200; anything else admitting would be a bug worth a crash report.
  if (verdict.admit && status != 200) __builtin_trap();
  (void)derp::admission::whois_verdict(status, body);
  return 0;
}
