// libFuzzer target: the two ClientHello extensions derpd reads itself before OpenSSL does (to
// answer ACME's TLS-ALPN-01 on the DERP listener): the ALPN list and the server name. Any
// stranger's handshake reaches them. The first input byte picks the extension; the rest is its
// body. What is found must lie inside the input.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "relay/tls/acme_challenge.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const unsigned char> body(data + 1, size - 1);
  if (data[0] & 1) {
    const std::string name = derp::tls::sni_host_name(body);
    if (name.size() + 5 > body.size() && !name.empty()) __builtin_trap();
  } else {
    (void)derp::tls::alpn_offers(body, derp::tls::kAcmeTlsAlpn);
    (void)derp::tls::alpn_offers(body, "");
  }
  return 0;
}
