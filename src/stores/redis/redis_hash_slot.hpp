#pragma once
// The hash slot of a key on Redis Cluster: CRC16 (XMODEM: polynomial 0x1021, no reflection)
// of the key, or of its hash tag (the text between the first '{' and the next '}', when that is
// not empty), modulo 16384. Keys with the same hash tag share a slot, hence a node.

#include <cstdint>
#include <string_view>

namespace sessionkit::detail {

inline constexpr unsigned redis_cluster_slots = 16384;

/// CRC16/XMODEM of `bytes` (the "123456789" check value is 0x31C3).
std::uint16_t redis_crc16(std::string_view bytes) noexcept;

/// The part of `key` that is hashed: its hash tag, or the whole key.
std::string_view redis_hash_tag(std::string_view key) noexcept;

/// The slot of `key`, 0..16383.
inline unsigned redis_hash_slot(std::string_view key) noexcept {
  return redis_crc16(redis_hash_tag(key)) % redis_cluster_slots;
}

}  // namespace sessionkit::detail
