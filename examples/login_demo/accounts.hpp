#pragma once
// The login demo's user table: a few built-in accounts, their passwords kept only as salted
// PBKDF2-HMAC-SHA256 hashes (OpenSSL), checked in constant time.

#include <array>
#include <string_view>

namespace sessionkit::login_demo {

/// A demo account as the login page shows it (the passwords are public: it is a demo).
struct demo_account {
  std::string_view name;
  std::string_view password;
};

/// alice / wonderland, bob / builder, carol / secret-garden.
inline constexpr std::array<demo_account, 3> demo_accounts{{
    {"alice", "wonderland"}, {"bob", "builder"}, {"carol", "secret-garden"}}};

/// Whether `password` is `user`'s. An unknown user costs the same hashing as a known one, so the
/// time taken does not tell which user names exist.
bool check_password(std::string_view user, std::string_view password);

}  // namespace sessionkit::login_demo
