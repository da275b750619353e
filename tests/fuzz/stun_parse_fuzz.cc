// Fuzzes the STUN request classifier and the reply writer, checking the invariants the server
// relies on: a reply only for a full header, never larger than needed, and readable by clients.
#include <cstdint>
#include <cstdlib>

#include "stun/binding_codec.h"

using namespace derp::stun;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes in(data, size);
  const ParsedRequest req = parse_binding_request(in);
  if ((req.kind == RequestKind::kMalformed) == (req.reason == DropReason::kNone)) std::abort();
  if (req.kind != RequestKind::kMalformed && size < kHeaderSize) std::abort();

  // Answer from a source derived from the input, in every family form.
  Endpoint sources[3];
  std::array<std::uint8_t, 16> a{};
  for (std::size_t i = 0; i < a.size() && i < size; ++i) a[i] = data[size - 1 - i];
  const std::uint16_t port = size >= 2 ? static_cast<std::uint16_t>(data[0] << 8 | data[1]) : 0;
  sources[0] = Endpoint::v4({a[0], a[1], a[2], a[3]}, port);
  sources[1] = Endpoint::v6(a, port);
  a[10] = a[11] = 0xff;
  for (int i = 0; i < 10; ++i) a[i] = 0;
  sources[2] = Endpoint::v6(a, port);  // v4-mapped
  for (const Endpoint& src : sources) {
    std::array<std::uint8_t, kMaxResponseSize> out{};
    const std::size_t n = write_binding_response(req.txid, src, out);
    if (n != (src.counts_as_v4() ? kResponseSizeV4 : kResponseSizeV6)) std::abort();
    const auto parsed = parse_binding_response(Bytes(out).first(n));
    if (!parsed || parsed->txid != req.txid || parsed->mapped.port != port) std::abort();
    if (parsed->mapped.is_v6 == src.counts_as_v4()) std::abort();
  }

  // The client-side parser must also survive arbitrary bytes.
  (void)parse_binding_response(in);
  return 0;
}
