#pragma once
// cookie-signature computed independently of the library (OpenSSL HMAC + our own base64), so the
// end-to-end and interop tests can check the servers' cookies and sign their own.

#include <span>
#include <string>
#include <string_view>

namespace sessionkit::test {

/// Standard base64 with `=` padding.
std::string base64(std::span<const unsigned char> bytes);
std::string base64(std::string_view text);

/// base64(HMAC-SHA256(secret, value)) without `=` padding: 43 characters.
std::string signature_of(std::string_view value, std::string_view secret);

}  // namespace sessionkit::test
