#include "id_hashing.hpp"

#include "detail/base64.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace sessionkit::detail {
namespace {

using digest = std::array<unsigned char, 32>;

digest hmac_sha256(std::string_view key, std::string_view message) {
  digest out{};
  unsigned int size = 0;
  if (!HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
            message.size(), out.data(), &size) ||
      size != out.size())
    throw std::runtime_error("OpenSSL: HMAC-SHA256 failed");
  return out;
}

// `text` XOR the keystream HMAC(old_id, "sessionkit forward" || block number), block by block.
std::string masked(std::string_view old_id, std::string_view text) {
  std::string out(text);
  std::string label = "sessionkit forward ";
  for (std::size_t at = 0, block = 0; at < out.size(); at += 32, ++block) {
    const digest pad = hmac_sha256(old_id, label + std::to_string(block));
    for (std::size_t i = 0; i < 32 && at + i < out.size(); ++i) out[at + i] = char(out[at + i] ^ char(pad[i]));
  }
  return out;
}

}  // namespace

std::string hashed_id(std::string_view key, std::string_view id) {
  const digest mac = hmac_sha256(key, id);
  std::string out;
  out.reserve(43);
  append_base64(out, mac.data(), mac.size(), base64_alphabet::url);
  return out;
}

std::string seal_forward(std::string_view old_id, std::string_view new_id) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : masked(old_id, new_id)) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

std::optional<std::string> open_forward(std::string_view old_id, std::string_view sealed) {
  if (sealed.empty() || sealed.size() % 2 != 0 || sealed.size() > 1024) return std::nullopt;
  auto digit = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  std::string bytes;
  for (std::size_t i = 0; i < sealed.size(); i += 2) {
    const int hi = digit(sealed[i]), lo = digit(sealed[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    bytes.push_back(char(hi * 16 + lo));
  }
  return masked(old_id, bytes);
}

}  // namespace sessionkit::detail
