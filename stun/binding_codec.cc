#include "stun/binding_codec.h"

#include <algorithm>

namespace derp::stun {
namespace {

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr auto kCrcTable = make_crc_table();

std::uint16_t load16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t load32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
void store16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void store32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

void write_header(std::uint8_t* p, std::uint16_t type, std::uint16_t length, const TxId& txid) {
  store16(p, type);
  store16(p + 2, length);
  store32(p + 4, kMagicCookie);
  std::copy(txid.begin(), txid.end(), p + 8);
}

ParsedRequest malformed(DropReason reason, const TxId& txid = {}) {
  return {RequestKind::kMalformed, reason, txid};
}

constexpr std::array<std::uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

std::string_view to_string(DropReason r) {
  switch (r) {
    case DropReason::kNone:
      return "none";
    case DropReason::kShort:
      return "short";
    case DropReason::kBadHeaderBits:
      return "bad_header_bits";
    case DropReason::kBadCookie:
      return "bad_cookie";
    case DropReason::kNotBindingRequest:
      return "not_binding_request";
    case DropReason::kAttributeOverrun:
      return "attribute_overrun";
    case DropReason::kBadLength:
      return "bad_length";
    case DropReason::kNoFingerprint:
      return "no_fingerprint";
    case DropReason::kBadFingerprint:
      return "bad_fingerprint";
    case DropReason::kGenericDisabled:
      return "generic_disabled";
    case DropReason::kTruncated:
      return "truncated";
    case DropReason::kDraining:
      return "draining";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

std::uint32_t fingerprint(Bytes data) {
  std::uint32_t c = 0xffffffffu;
  for (std::uint8_t b : data) c = kCrcTable[(c ^ b) & 0xff] ^ (c >> 8);
  return (c ^ 0xffffffffu) ^ kFingerprintXor;
}

ParsedRequest parse_binding_request(Bytes b) {
  if (b.size() < kHeaderSize) return malformed(DropReason::kShort);
  if ((b[0] & 0xc0) != 0) return malformed(DropReason::kBadHeaderBits);
  if (load32(&b[4]) != kMagicCookie) return malformed(DropReason::kBadCookie);
  TxId txid;
  std::copy_n(&b[8], txid.size(), txid.begin());
  if (load16(&b[0]) != kBindingRequest) return malformed(DropReason::kNotBindingRequest, txid);

  bool tailnode = false;
  bool have_fingerprint = false;
  bool fingerprint_last = false;
  std::uint16_t fingerprint_len = 0;
  std::uint32_t fingerprint_value = 0;
  std::size_t off = kHeaderSize;
  while (off < b.size()) {
    if (b.size() - off < 4) return malformed(DropReason::kAttributeOverrun, txid);
    const std::uint16_t type = load16(&b[off]);
    const std::uint16_t len = load16(&b[off + 2]);
    const std::size_t padded = (std::size_t{len} + 3) & ~std::size_t{3};
    off += 4;
    if (padded > b.size() - off) return malformed(DropReason::kAttributeOverrun, txid);
    const Bytes value = b.subspan(off, len);
    if (type == kAttrSoftware && std::equal(value.begin(), value.end(), kTailscaleSoftware.begin(),
                                            kTailscaleSoftware.end()))
      tailnode = true;
    fingerprint_last = type == kAttrFingerprint;
    if (fingerprint_last) {
      have_fingerprint = true;
      fingerprint_len = len;
      if (len == 4) fingerprint_value = load32(value.data());
    }
    off += padded;
  }

  // FINGERPRINT, when present, must be last, 4 bytes, and cover everything before it.
  auto fingerprint_ok = [&] {
    return fingerprint_last && fingerprint_len == 4 &&
           fingerprint_value == fingerprint(b.first(b.size() - 8));
  };
  if (tailnode) {
    if (!fingerprint_last) return malformed(DropReason::kNoFingerprint, txid);
    if (!fingerprint_ok()) return malformed(DropReason::kBadFingerprint, txid);
    return {RequestKind::kTailscale, DropReason::kNone, txid};
  }
  if (load16(&b[2]) != b.size() - kHeaderSize) return malformed(DropReason::kBadLength, txid);
  if (have_fingerprint && !fingerprint_ok()) return malformed(DropReason::kBadFingerprint, txid);
  return {RequestKind::kGeneric, DropReason::kNone, txid};
}

Endpoint Endpoint::v4(std::array<std::uint8_t, 4> a, std::uint16_t port) {
  Endpoint e;
  std::copy(a.begin(), a.end(), e.addr.begin());
  e.port = port;
  return e;
}

Endpoint Endpoint::v6(const std::array<std::uint8_t, 16>& a, std::uint16_t port) {
  Endpoint e;
  e.addr = a;
  e.is_v6 = true;
  e.port = port;
  return e;
}

bool Endpoint::is_v4_mapped() const {
  return is_v6 && std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), addr.begin());
}

std::size_t write_binding_response(const TxId& txid, const Endpoint& source,
                                   std::span<std::uint8_t, kMaxResponseSize> out, V4Mapped mapped) {
  const bool unmap = mapped == V4Mapped::kUnmap && source.is_v4_mapped();
  const bool v6 = source.is_v6 && !unmap;
  const std::uint8_t* addr = unmap ? source.addr.data() + 12 : source.addr.data();
  const std::size_t addr_len = v6 ? 16 : 4;
  const std::uint16_t value_len = static_cast<std::uint16_t>(4 + addr_len);

  std::uint8_t* p = out.data();
  write_header(p, kBindingSuccess, static_cast<std::uint16_t>(4 + value_len), txid);
  p += kHeaderSize;
  store16(p, kAttrXorMappedAddress);
  store16(p + 2, value_len);
  p[4] = 0;
  p[5] = v6 ? 2 : 1;
  store16(p + 6, static_cast<std::uint16_t>(source.port ^ (kMagicCookie >> 16)));
  // The address is XORed with cookie ‖ txid, which is exactly bytes 4..20 of the header.
  const std::uint8_t* key = out.data() + 4;
  for (std::size_t i = 0; i < addr_len; ++i) p[8 + i] = addr[i] ^ key[i];
  return kHeaderSize + 4 + value_len;
}

std::array<std::uint8_t, kTailscaleRequestSize> make_tailscale_request(const TxId& txid) {
  std::array<std::uint8_t, kTailscaleRequestSize> b{};
  write_header(b.data(), kBindingRequest, 20, txid);
  store16(&b[20], kAttrSoftware);
  store16(&b[22], static_cast<std::uint16_t>(kTailscaleSoftware.size()));
  std::copy(kTailscaleSoftware.begin(), kTailscaleSoftware.end(), &b[24]);
  store16(&b[32], kAttrFingerprint);
  store16(&b[34], 4);
  store32(&b[36], fingerprint(Bytes(b).first(32)));
  return b;
}

std::array<std::uint8_t, kGenericRequestSize> make_generic_request(const TxId& txid) {
  std::array<std::uint8_t, kGenericRequestSize> b{};
  write_header(b.data(), kBindingRequest, 0, txid);
  return b;
}

std::optional<ParsedResponse> parse_binding_response(Bytes b) {
  if (b.size() < kHeaderSize || (b[0] & 0xc0) != 0 || load32(&b[4]) != kMagicCookie) return {};
  if (load16(&b[0]) != kBindingSuccess) return {};
  const std::size_t end = kHeaderSize + load16(&b[2]);
  if (end > b.size()) return {};
  ParsedResponse r;
  std::copy_n(&b[8], r.txid.size(), r.txid.begin());

  std::optional<Endpoint> xor_mapped;
  std::optional<Endpoint> plain_mapped;
  std::size_t off = kHeaderSize;
  while (end - off >= 4) {
    const std::uint16_t type = load16(&b[off]);
    const std::uint16_t len = load16(&b[off + 2]);
    off += 4;
    if (len > end - off) return {};
    const std::uint8_t* v = &b[off];
    off += std::min<std::size_t>((std::size_t{len} + 3) & ~std::size_t{3}, end - off);
    const bool is_xor = type == kAttrXorMappedAddress || type == kAttrXorMappedAddressAlt;
    if (!is_xor && type != kAttrMappedAddress) continue;
    if (len < 4 || (v[1] != 1 && v[1] != 2) || len != (v[1] == 1 ? 8 : 20)) continue;
    Endpoint e;
    e.is_v6 = v[1] == 2;
    const std::size_t n = e.is_v6 ? 16 : 4;
    e.port = load16(v + 2);
    std::copy_n(v + 4, n, e.addr.begin());
    if (is_xor) {
      e.port ^= static_cast<std::uint16_t>(kMagicCookie >> 16);
      for (std::size_t i = 0; i < n; ++i) e.addr[i] ^= b[4 + i];
      if (!xor_mapped) xor_mapped = e;
    } else if (!plain_mapped) {
      plain_mapped = e;
    }
  }
  std::optional<Endpoint> mapped = xor_mapped ? xor_mapped : plain_mapped;
  if (!mapped) return {};
  if (mapped->is_v4_mapped()) {
    std::array<std::uint8_t, 4> a;
    std::copy_n(mapped->addr.begin() + 12, 4, a.begin());
    mapped = Endpoint::v4(a, mapped->port);
  }
  r.mapped = *mapped;
  return r;
}

}  // namespace derp::stun
