#include <sessionkit/signer.hpp>

#include "detail/base64.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <stdexcept>

namespace sessionkit {
namespace {

constexpr std::size_t block_size = 64;  // SHA-256 block
constexpr std::size_t digest_size = 32;
constexpr std::size_t signature_chars = 43;  // base64 of 32 bytes without '='

const EVP_MD* sha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!md) throw std::runtime_error("OpenSSL: SHA256 unavailable");
  return md;
}

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using md_ctx = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;

md_ctx new_ctx() {
  md_ctx c{EVP_MD_CTX_new()};
  if (!c) throw std::bad_alloc();
  return c;
}

}  // namespace

// HMAC (RFC 2104) with the inner and outer hash states prepared once per secret; each MAC then
// copies the two states instead of re-hashing the padded key.
struct signer::key {
  md_ctx inner = new_ctx();
  md_ctx outer = new_ctx();

  explicit key(std::string_view secret) {
    std::array<unsigned char, block_size> k{};
    if (secret.size() > block_size) {
      unsigned int n = 0;
      EVP_Digest(secret.data(), secret.size(), k.data(), &n, sha256(), nullptr);
    } else {
      std::copy(secret.begin(), secret.end(), k.begin());
    }
    std::array<unsigned char, block_size> pad{};
    for (std::size_t i = 0; i < block_size; ++i) pad[i] = k[i] ^ 0x36;
    if (!EVP_DigestInit_ex(inner.get(), sha256(), nullptr) ||
        !EVP_DigestUpdate(inner.get(), pad.data(), pad.size()))
      throw std::runtime_error("OpenSSL: HMAC key setup failed");
    for (std::size_t i = 0; i < block_size; ++i) pad[i] = k[i] ^ 0x5c;
    if (!EVP_DigestInit_ex(outer.get(), sha256(), nullptr) ||
        !EVP_DigestUpdate(outer.get(), pad.data(), pad.size()))
      throw std::runtime_error("OpenSSL: HMAC key setup failed");
    OPENSSL_cleanse(k.data(), k.size());
    OPENSSL_cleanse(pad.data(), pad.size());
  }

  // Appends the 43-character signature of `value` to `out`.
  void append_signature(std::string& out, std::string_view value) const {
    thread_local md_ctx work = new_ctx();
    std::array<unsigned char, digest_size> digest{};
    unsigned int n = 0;
    if (!EVP_MD_CTX_copy_ex(work.get(), inner.get()) ||
        !EVP_DigestUpdate(work.get(), value.data(), value.size()) ||
        !EVP_DigestFinal_ex(work.get(), digest.data(), &n) ||
        !EVP_MD_CTX_copy_ex(work.get(), outer.get()) ||
        !EVP_DigestUpdate(work.get(), digest.data(), digest.size()) ||
        !EVP_DigestFinal_ex(work.get(), digest.data(), &n))
      throw std::runtime_error("OpenSSL: HMAC failed");
    detail::append_base64(out, digest.data(), digest.size(), detail::base64_alphabet::standard);
  }

  // Exact match of `value.signature` in constant time (the length is public).
  bool verifies(std::string_view value, std::string_view signature) const {
    if (signature.size() != signature_chars) return false;
    std::string expected;
    expected.reserve(signature_chars + 1);
    append_signature(expected, value);
    return CRYPTO_memcmp(expected.data(), signature.data(), signature_chars) == 0;
  }
};

signer::signer(std::vector<std::string> secrets) : secrets_(std::move(secrets)) {
  if (secrets_.empty())
    throw std::invalid_argument("secret option array must contain one or more strings");
  keys_.reserve(secrets_.size());
  for (const auto& s : secrets_) keys_.push_back(std::make_unique<key>(s));
}

signer::~signer() = default;
signer::signer(signer&&) noexcept = default;
signer& signer::operator=(signer&&) noexcept = default;

std::string signer::sign(std::string_view value) const {
  std::string out;
  out.reserve(value.size() + 1 + signature_chars + 1);
  out.append(value).push_back('.');
  keys_.front()->append_signature(out, value);
  return out;
}

std::optional<std::string> signer::unsign(std::string_view input) const {
  const std::size_t dot = input.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view value = input.substr(0, dot);
  const std::string_view signature = input.substr(dot + 1);
  for (const auto& k : keys_)
    if (k->verifies(value, signature)) return std::string(value);
  return std::nullopt;
}

std::string sign(std::string_view value, std::string_view secret) {
  return signer({std::string(secret)}).sign(value);
}

std::optional<std::string> unsign(std::string_view input, std::string_view secret) {
  return signer({std::string(secret)}).unsign(input);
}

}  // namespace sessionkit
