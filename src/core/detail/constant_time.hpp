#pragma once
// Byte comparison whose time depends on the length only, never on where the bytes differ (for
// signatures and signed ids). Eight bytes at a time: OpenSSL's CRYPTO_memcmp goes byte by byte,
// which was ~7 instructions a byte on every request.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sessionkit::detail {

inline bool equal_in_constant_time(const char* a, const char* b, std::size_t size) noexcept {
  std::uint64_t diff = 0;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    diff |= x ^ y;
    // An empty barrier: the compiler cannot see `diff`, so it cannot stop at the first difference.
    __asm__ volatile("" : "+r"(diff));
  }
  for (; i < size; ++i) {
    diff |= static_cast<std::uint8_t>(a[i] ^ b[i]);
    __asm__ volatile("" : "+r"(diff));
  }
  return diff == 0;
}

}  // namespace sessionkit::detail
