#include "relay/protocol/key.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace derp::protocol {
namespace {

constexpr std::string_view kNodeKeyPrefix = "nodekey:";
constexpr std::string_view kPrivKeyPrefix = "privkey:";

}  // namespace

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

namespace {

void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0x0f];
  }
  return out;
}

std::optional<KeyBytes> parse_hex32(std::string_view hex) {
  if (hex.size() != 2 * kKeyLen) return std::nullopt;
  KeyBytes out;
  for (std::size_t i = 0; i < kKeyLen; ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

NodePublic NodePublic::from_span(std::span<const std::uint8_t> s) {
  NodePublic k;
  std::memcpy(k.bytes.data(), s.data(), kKeyLen);
  return k;
}

bool NodePublic::is_zero() const {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

std::string NodePublic::to_hex() const {
  return protocol::to_hex(bytes);
}
std::string NodePublic::to_text() const {
  return std::string(kNodeKeyPrefix) + to_hex();
}

std::string NodePublic::short_form() const {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  // Five base64 characters need the first 30 bits: four bytes are enough.
  std::uint32_t v = std::uint32_t{bytes[0]} << 24 | std::uint32_t{bytes[1]} << 16 |
                    std::uint32_t{bytes[2]} << 8 | bytes[3];
  std::string out = "[";
  for (int i = 0; i < 5; ++i) out += kB64[(v >> (26 - 6 * i)) & 0x3f];
  out += ']';
  return out;
}

NodePrivate NodePrivate::generate() {
  ensure_sodium();
  NodePrivate k;
  randombytes_buf(k.bytes.data(), k.bytes.size());
  k.bytes[0] &= 248;
  k.bytes[31] = (k.bytes[31] & 127) | 64;
  return k;
}

NodePublic NodePrivate::public_key() const {
  ensure_sodium();
  NodePublic pub;
  crypto_scalarmult_base(pub.bytes.data(), bytes.data());
  return pub;
}

std::string NodePrivate::to_text() const {
  return std::string(kPrivKeyPrefix) + to_hex(bytes);
}

std::optional<NodePublic> parse_node_public(std::string_view text) {
  if (!text.starts_with(kNodeKeyPrefix)) return std::nullopt;
  auto bytes = parse_hex32(text.substr(kNodeKeyPrefix.size()));
  if (!bytes) return std::nullopt;
  return NodePublic{*bytes};
}

std::optional<NodePrivate> parse_node_private(std::string_view text) {
  if (!text.starts_with(kPrivKeyPrefix)) return std::nullopt;
  auto bytes = parse_hex32(text.substr(kPrivKeyPrefix.size()));
  if (!bytes) return std::nullopt;
  return NodePrivate{*bytes};
}

}  // namespace derp::protocol
