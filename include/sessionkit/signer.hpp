#pragma once
/// @file signer.hpp
/// Cookie signing compatible with Node's `cookie-signature` (HMAC-SHA256, standard base64
/// without padding), with secret rotation: the first secret signs, every secret verifies.

#include <sessionkit/config.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sessionkit {

/// `cookie-signature`'s `sign(value, secret)`: `value + "." + base64(HMAC-SHA256(secret, value))`
/// with the `=` padding removed (43 signature characters).
SESSIONKIT_API std::string sign(std::string_view value, std::string_view secret);

/// `cookie-signature`'s `unsign(input, secret)`: splits at the last `.` and accepts only an exact,
/// constant-time match of the whole signed string.
/// @return the value, or an empty optional when the signature does not verify.
SESSIONKIT_API std::optional<std::string> unsign(std::string_view input, std::string_view secret);

/// Signs with the first of several secrets and verifies with any of them. The HMAC keys are
/// prepared once, so signing and verifying cost two SHA-256 compressions plus the message.
/// Thread-safe: all member functions are const.
class SESSIONKIT_API signer {
 public:
  /// @param secrets one or more secrets (raw bytes; a text secret is its UTF-8 bytes)
  /// @throws std::invalid_argument when `secrets` is empty
  explicit signer(std::vector<std::string> secrets);
  ~signer();
  signer(signer&&) noexcept;
  signer& operator=(signer&&) noexcept;

  /// `value + "." + signature` with the first secret.
  std::string sign(std::string_view value) const;

  /// Tries every secret in order (rotation).
  /// @return the value when one secret verifies, else an empty optional.
  std::optional<std::string> unsign(std::string_view input) const;

  /// `unsign`, also saying which secret verified (0: the one that signs).
  std::optional<std::pair<std::string, std::size_t>> unsign_with_index(std::string_view input) const;

  /// Which secret verifies `input` (`value.signature`), without copying the value.
  /// @return the secret's index (0: the one that signs), or an empty optional
  std::optional<std::size_t> verifying_secret(std::string_view input) const;

  /// The secrets, first one signing.
  const std::vector<std::string>& secrets() const noexcept { return secrets_; }

 private:
  struct key;
  std::vector<std::string> secrets_;
  std::vector<std::unique_ptr<key>> keys_;
};

}  // namespace sessionkit
