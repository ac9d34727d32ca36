// The user table (accounts.hpp). Each hash is PBKDF2-HMAC-SHA256(password, salt, 100000
// iterations), 32 bytes, made once with OpenSSL's PKCS5_PBKDF2_HMAC (Python's
// hashlib.pbkdf2_hmac gives the same); only the hashes and salts are in the program.

#include "accounts.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <string>

namespace sessionkit::login_demo {
namespace {

constexpr int iterations = 100'000;

struct stored_account {
  std::string_view name;
  std::string_view salt_hex;
  std::string_view hash_hex;
};

constexpr std::array<stored_account, 3> table{{
    {"alice", "3eea8406b7b1e9f07e92d1a853b70438", "4663ccac849ac5c37290068f98df1fd66f9cee4a1f267a676543822282f42cbd"},
    {"bob", "78cf3d95153f468cca014fc1e3003362", "07dbee1f4b3a54583a26d6b499d3f95c0a9159d7d15b8fca2c680a2f0cced2af"},
    {"carol", "29110eb06d4f1d3f38aecee3198f7a97", "36d73be65bc1fa0ab11fec27df75c60ebc2fdbb45ff0aa4cc801728037549e10"},
}};

// A salt for names that are not in the table: hashed all the same.
constexpr std::string_view nobody_salt = "00000000000000000000000000000000";

std::string from_hex(std::string_view hex) {
  auto digit = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1])));
  return out;
}

}  // namespace

bool check_password(std::string_view user, std::string_view password) {
  const stored_account* found = nullptr;
  for (const auto& a : table)
    if (a.name == user) found = &a;
  const std::string salt = from_hex(found ? found->salt_hex : nobody_salt);
  unsigned char derived[32];
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        iterations, EVP_sha256(), sizeof derived, derived) != 1)
    return false;
  if (!found) return false;
  const std::string expected = from_hex(found->hash_hex);
  return CRYPTO_memcmp(derived, expected.data(), sizeof derived) == 0;
}

}  // namespace sessionkit::login_demo
