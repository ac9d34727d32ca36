#pragma once
// Base64 (RFC 4648) without padding: the standard alphabet for signatures (cookie-signature) and
// the URL-safe one for session ids (uid-safe).

#include <cstddef>
#include <string>

namespace sessionkit::detail {

enum class base64_alphabet { standard, url };

inline void append_base64(std::string& out, const unsigned char* data, std::size_t size,
                          base64_alphabet alphabet) {
  static constexpr char standard[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static constexpr char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* table = alphabet == base64_alphabet::standard ? standard : url;
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const unsigned v = (unsigned(data[i]) << 16) | (unsigned(data[i + 1]) << 8) | data[i + 2];
    out.push_back(table[(v >> 18) & 63]);
    out.push_back(table[(v >> 12) & 63]);
    out.push_back(table[(v >> 6) & 63]);
    out.push_back(table[v & 63]);
  }
  if (size - i == 1) {
    const unsigned v = unsigned(data[i]) << 16;
    out.push_back(table[(v >> 18) & 63]);
    out.push_back(table[(v >> 12) & 63]);
  } else if (size - i == 2) {
    const unsigned v = (unsigned(data[i]) << 16) | (unsigned(data[i + 1]) << 8);
    out.push_back(table[(v >> 18) & 63]);
    out.push_back(table[(v >> 12) & 63]);
    out.push_back(table[(v >> 6) & 63]);
  }
}

}  // namespace sessionkit::detail
