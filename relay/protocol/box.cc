#include "relay/protocol/box.h"

#include <sodium.h>

#include <array>

namespace derp::protocol {

std::vector<std::uint8_t> seal_box_with_nonce(std::span<const std::uint8_t> plaintext,
                                              const NodePrivate& sender,
                                              const NodePublic& recipient,
                                              std::span<const std::uint8_t, kNonceLen> nonce) {
  std::vector<std::uint8_t> out(kNonceLen + kBoxOverhead + plaintext.size());
  std::copy(nonce.begin(), nonce.end(), out.begin());
  if (crypto_box_easy(out.data() + kNonceLen, plaintext.data(), plaintext.size(), out.data(),
                      recipient.bytes.data(), sender.bytes.data()) != 0) {
    return {};  // small-order recipient key: nothing can be sealed to it
  }
  return out;
}

std::vector<std::uint8_t> seal_box(std::span<const std::uint8_t> plaintext,
                                   const NodePrivate& sender, const NodePublic& recipient) {
  std::array<std::uint8_t, kNonceLen> nonce;
  randombytes_buf(nonce.data(), nonce.size());
  return seal_box_with_nonce(plaintext, sender, recipient, nonce);
}

std::optional<std::vector<std::uint8_t>> open_box(std::span<const std::uint8_t> sealed,
                                                  const NodePrivate& recipient,
                                                  const NodePublic& sender) {
  if (sealed.size() < kNonceLen + kBoxOverhead) return std::nullopt;
  std::vector<std::uint8_t> out(sealed.size() - kNonceLen - kBoxOverhead);
  if (crypto_box_open_easy(out.data(), sealed.data() + kNonceLen, sealed.size() - kNonceLen,
                           sealed.data(), sender.bytes.data(), recipient.bytes.data()) != 0) {
    return std::nullopt;
  }
  return out;
}

std::optional<BoxKey> box_key(const NodePrivate& mine, const NodePublic& theirs) {
  BoxKey k;
  if (crypto_box_beforenm(k.bytes.data(), theirs.bytes.data(), mine.bytes.data()) != 0) {
    return std::nullopt;
  }
  return k;
}

std::vector<std::uint8_t> seal_box(std::span<const std::uint8_t> plaintext, const BoxKey& key) {
  std::vector<std::uint8_t> out(kNonceLen + kBoxOverhead + plaintext.size());
  randombytes_buf(out.data(), kNonceLen);
  crypto_box_easy_afternm(out.data() + kNonceLen, plaintext.data(), plaintext.size(), out.data(),
                          key.bytes.data());
  return out;
}

std::optional<std::vector<std::uint8_t>> open_box(std::span<const std::uint8_t> sealed,
                                                  const BoxKey& key) {
  if (sealed.size() < kNonceLen + kBoxOverhead) return std::nullopt;
  std::vector<std::uint8_t> out(sealed.size() - kNonceLen - kBoxOverhead);
  if (crypto_box_open_easy_afternm(out.data(), sealed.data() + kNonceLen, sealed.size() - kNonceLen,
                                   sealed.data(), key.bytes.data()) != 0) {
    return std::nullopt;
  }
  return out;
}

}  // namespace derp::protocol
