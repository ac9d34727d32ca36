#pragma once
// Base64 (RFC 4648) without padding: the standard alphabet for signatures (cookie-signature) and
// the URL-safe one for session ids (uid-safe, and MemoryStore's compact keys).

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace sessionkit::detail {

enum class base64_alphabet { standard, url };

// Writes the base64 of `data` at `out` (4 characters per 3 bytes, no padding); returns the end.
inline char* write_base64(char* out, const unsigned char* data, std::size_t size, base64_alphabet alphabet) {
  static constexpr char standard[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static constexpr char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* table = alphabet == base64_alphabet::standard ? standard : url;
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const unsigned v = (unsigned(data[i]) << 16) | (unsigned(data[i + 1]) << 8) | data[i + 2];
    *out++ = table[(v >> 18) & 63];
    *out++ = table[(v >> 12) & 63];
    *out++ = table[(v >> 6) & 63];
    *out++ = table[v & 63];
  }
  if (size - i == 1) {
    const unsigned v = unsigned(data[i]) << 16;
    *out++ = table[(v >> 18) & 63];
    *out++ = table[(v >> 12) & 63];
  } else if (size - i == 2) {
    const unsigned v = (unsigned(data[i]) << 16) | (unsigned(data[i + 1]) << 8);
    *out++ = table[(v >> 18) & 63];
    *out++ = table[(v >> 12) & 63];
    *out++ = table[(v >> 6) & 63];
  }
  return out;
}

// The length of the unpadded base64 of `size` bytes.
constexpr std::size_t base64_size(std::size_t size) { return size / 3 * 4 + (size % 3 == 0 ? 0 : size % 3 + 1); }

inline void append_base64(std::string& out, const unsigned char* data, std::size_t size,
                          base64_alphabet alphabet) {
  const std::size_t at = out.size();
  out.resize(at + base64_size(size));
  write_base64(out.data() + at, data, size, alphabet);
}

// base64url digit values, -1 for other bytes.
inline constexpr std::array<signed char, 256> base64url_values = [] {
  std::array<signed char, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 26; ++i) {
    t[std::size_t('A' + i)] = static_cast<signed char>(i);
    t[std::size_t('a' + i)] = static_cast<signed char>(26 + i);
  }
  for (int i = 0; i < 10; ++i) t[std::size_t('0' + i)] = static_cast<signed char>(52 + i);
  t[std::size_t('-')] = 62;
  t[std::size_t('_')] = 63;
  return t;
}();

// Decodes unpadded base64url text whose length is a multiple of 4 into `out` (3 bytes per 4
// characters). Returns false for a wrong length or a character outside the alphabet.
template <std::size_t N>
bool decode_base64url(std::string_view text, std::array<unsigned char, N>& out) {
  static_assert(N % 3 == 0);
  if (text.size() != N / 3 * 4) return false;
  for (std::size_t i = 0, o = 0; i < text.size(); i += 4, o += 3) {
    unsigned v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const int d = base64url_values[static_cast<unsigned char>(text[i + k])];
      if (d < 0) return false;
      v = (v << 6) | unsigned(d);
    }
    out[o] = static_cast<unsigned char>(v >> 16);
    out[o + 1] = static_cast<unsigned char>(v >> 8);
    out[o + 2] = static_cast<unsigned char>(v);
  }
  return true;
}

}  // namespace sessionkit::detail
