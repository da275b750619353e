// STUN Binding codec (protocol §7, RFC 5389/8489): pure functions over byte spans, no I/O, no
// allocation. The server side classifies a datagram and writes the one reply we ever send; the
// client side (request writers, response parser) serves tests, the fuzzer and the load generator.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace derp::stun {

using Bytes = std::span<const std::uint8_t>;
using TxId = std::array<std::uint8_t, 12>;

inline constexpr std::size_t kHeaderSize = 20;
inline constexpr std::uint32_t kMagicCookie = 0x2112a442;
inline constexpr std::uint16_t kBindingRequest = 0x0001;
inline constexpr std::uint16_t kBindingSuccess = 0x0101;
inline constexpr std::uint16_t kAttrMappedAddress = 0x0001;
inline constexpr std::uint16_t kAttrXorMappedAddress = 0x0020;
inline constexpr std::uint16_t kAttrXorMappedAddressAlt = 0x8020;  // pre-RFC 5389 servers
inline constexpr std::uint16_t kAttrSoftware = 0x8022;
inline constexpr std::uint16_t kAttrFingerprint = 0x8028;
inline constexpr std::uint32_t kFingerprintXor = 0x5354554e;
inline constexpr std::string_view kTailscaleSoftware = "tailnode";

inline constexpr std::size_t kTailscaleRequestSize = 40;
inline constexpr std::size_t kGenericRequestSize = 20;  // header only, what coturn sends
inline constexpr std::size_t kResponseSizeV4 = 32;
inline constexpr std::size_t kResponseSizeV6 = 44;
inline constexpr std::size_t kMaxResponseSize = kResponseSizeV6;

enum class RequestKind : std::uint8_t {
  kTailscale,  // SOFTWARE "tailnode" and a valid FINGERPRINT as the last attribute (§7.2)
  kGeneric,    // a well-formed RFC 5389/8489 Binding request without "tailnode"
  kMalformed,  // everything else; `reason` says why
};

// Why a datagram gets no answer. The server counts each one as `not_stun` (protocol §8.3) and, by
// reason, as `stun_dropped{reason=...}`. Keep kCount last.
enum class DropReason : std::uint8_t {
  kNone,
  kShort,              // fewer than 20 bytes
  kBadHeaderBits,      // top two bits of the type are not 00
  kBadCookie,          // no magic cookie (RFC 3489 or not STUN at all)
  kNotBindingRequest,  // STUN, but not type 0x0001
  kAttributeOverrun,   // an attribute (with padding) runs past the end of the datagram
  kBadLength,          // generic only: header length field != datagram size - 20
  kNoFingerprint,      // "tailnode" without FINGERPRINT as the last attribute
  kBadFingerprint,     // FINGERPRINT wrong length, not last, or CRC mismatch
  kGenericDisabled,    // well-formed generic request while answer_generic is off
  kTruncated,          // server: datagram larger than the receive buffer
  kDraining,           // server: replies switched off (set_replies_enabled(false))
  kCount,
};
std::string_view to_string(DropReason r);

struct ParsedRequest {
  RequestKind kind = RequestKind::kMalformed;
  DropReason reason = DropReason::kShort;  // kNone unless kind == kMalformed
  TxId txid{};                             // valid whenever the datagram had a full header
};

// Classifies one datagram (§7.2). Attributes are walked from offset 20 to the end of the
// datagram, as the reference does; the header length is checked only for generic requests.
ParsedRequest parse_binding_request(Bytes datagram);

// A UDP source address as the socket reported it. addr holds 4 bytes (IPv4) or 16 (IPv6).
struct Endpoint {
  std::array<std::uint8_t, 16> addr{};
  bool is_v6 = false;
  std::uint16_t port = 0;

  static Endpoint v4(std::array<std::uint8_t, 4> a, std::uint16_t port);
  static Endpoint v6(const std::array<std::uint8_t, 16>& a, std::uint16_t port);
  bool is_v4_mapped() const;
  // IPv4 (directly or as ::ffff:a.b.c.d) counts as ipv4 (protocol §8.3).
  bool counts_as_v4() const { return !is_v6 || is_v4_mapped(); }
  bool operator==(const Endpoint&) const = default;
};

enum class V4Mapped : std::uint8_t {
  kUnmap,  // our behaviour: ::ffff:a.b.c.d is answered as family 1 (32 bytes)
  kKeep,   // the reference's dual-stack quirk: family 2 with the mapped address (44 bytes)
};

// Writes a Binding success response carrying exactly one XOR-MAPPED-ADDRESS (§7.3) and returns
// its size: kResponseSizeV4 or kResponseSizeV6. Nothing of the request but its transaction ID
// reaches the reply, so its size never depends on what the client sent.
std::size_t write_binding_response(const TxId& txid, const Endpoint& source,
                                   std::span<std::uint8_t, kMaxResponseSize> out,
                                   V4Mapped mapped = V4Mapped::kUnmap);

// CRC-32 (IEEE) of `data` XOR 0x5354554e, the FINGERPRINT value.
std::uint32_t fingerprint(Bytes data);

// ---- client side ----
// The 40-byte request Tailscale clients send (§7.1).
std::array<std::uint8_t, kTailscaleRequestSize> make_tailscale_request(const TxId& txid);
// A header-only RFC 5389 Binding request, as coturn's turnutils_stunclient sends.
std::array<std::uint8_t, kGenericRequestSize> make_generic_request(const TxId& txid);

struct ParsedResponse {
  TxId txid{};
  Endpoint mapped;  // un-mapped to IPv4 when the server sent ::ffff:a.b.c.d
};
// Parses a Binding success response the way clients do (§7.4): XOR-MAPPED-ADDRESS (0x0020 or
// 0x8020), else MAPPED-ADDRESS; header length must fit the datagram; trailing bytes ignored.
std::optional<ParsedResponse> parse_binding_response(Bytes datagram);

}  // namespace derp::stun
