// NaCl crypto_box (Curve25519-XSalsa20-Poly1305) as DERP frames it: nonce ‖ MAC ‖ ciphertext
// (protocol §3.3).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "relay/protocol/key.h"

namespace derp::protocol {

// Seals `plaintext` from `sender` to `recipient` with a fresh random nonce.
std::vector<std::uint8_t> seal_box(std::span<const std::uint8_t> plaintext,
                                   const NodePrivate& sender, const NodePublic& recipient);
// Same, with a caller-chosen nonce: only for test vectors.
std::vector<std::uint8_t> seal_box_with_nonce(std::span<const std::uint8_t> plaintext,
                                              const NodePrivate& sender,
                                              const NodePublic& recipient,
                                              std::span<const std::uint8_t, kNonceLen> nonce);
// Opens nonce ‖ MAC ‖ ciphertext. nullopt when it is short, forged, or the key is small-order.
std::optional<std::vector<std::uint8_t>> open_box(std::span<const std::uint8_t> sealed,
                                                  const NodePrivate& recipient,
                                                  const NodePublic& sender);

// The Curve25519 shared key of one side's private key and the other's public key
// (crypto_box_beforenm). The scalar multiplication is most of a box's cost; a handshake that opens
// the client's box and seals the answer needs it once, not twice.
struct BoxKey {
  std::array<std::uint8_t, 32> bytes{};
};
// nullopt when `theirs` is a small-order key: nothing can be sealed to or opened from it.
std::optional<BoxKey> box_key(const NodePrivate& mine, const NodePublic& theirs);
std::vector<std::uint8_t> seal_box(std::span<const std::uint8_t> plaintext, const BoxKey& key);
std::optional<std::vector<std::uint8_t>> open_box(std::span<const std::uint8_t> sealed,
                                                  const BoxKey& key);

}  // namespace derp::protocol
