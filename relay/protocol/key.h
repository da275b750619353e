// Curve25519 keys as DERP uses them, and their text forms (protocol §3.1, §3.2).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "relay/protocol/constants.h"

namespace derp::protocol {

using KeyBytes = std::array<std::uint8_t, kKeyLen>;

// A node's public key: the identity a client registers under.
struct NodePublic {
  KeyBytes bytes{};

  static NodePublic from_span(std::span<const std::uint8_t> s);  // s.size() must be kKeyLen
  bool is_zero() const;
  std::string to_text() const;     // "nodekey:<64 lowercase hex>"
  std::string to_hex() const;      // "<64 lowercase hex>"
  std::string short_form() const;  // "[17XoH]" for logs
  friend bool operator==(const NodePublic&, const NodePublic&) = default;
};

struct NodePrivate {
  KeyBytes bytes{};

  static NodePrivate generate();  // random and clamped, like the reference
  NodePublic public_key() const;
  std::string to_text() const;  // "privkey:<64 lowercase hex>"
};

// Parses "nodekey:<64 hex>" (either case). Returns nullopt on anything else.
std::optional<NodePublic> parse_node_public(std::string_view text);
// Parses "privkey:<64 hex>" (either case).
std::optional<NodePrivate> parse_node_private(std::string_view text);
// The value of one hex digit (either case), or -1.
int hex_value(char c);
// Parses exactly 64 hex digits into 32 bytes.
std::optional<KeyBytes> parse_hex32(std::string_view hex);
std::string to_hex(std::span<const std::uint8_t> bytes);

}  // namespace derp::protocol

template <>
struct std::hash<derp::protocol::NodePublic> {
  std::size_t operator()(const derp::protocol::NodePublic& k) const noexcept {
    // Keys are uniformly random: any 8 bytes make a good hash.
    std::size_t h;
    static_assert(sizeof(h) <= derp::protocol::kKeyLen);
    __builtin_memcpy(&h, k.bytes.data(), sizeof(h));
    return h;
  }
};
