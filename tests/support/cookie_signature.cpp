// cookie-signature computed independently of the library (see cookie_signature.hpp).
#include "support/cookie_signature.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <stdexcept>

namespace sessionkit::test {

std::string base64(std::span<const unsigned char> bytes)
{
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = (bytes[i] << 16U) | (bytes[i + 1] << 8U) | bytes[i + 2];
        out += alphabet[(v >> 18U) & 63U];
        out += alphabet[(v >> 12U) & 63U];
        out += alphabet[(v >> 6U) & 63U];
        out += alphabet[v & 63U];
    }
    if (const std::size_t rest = bytes.size() - i; rest > 0) {
        const unsigned v = (bytes[i] << 16U) | (rest == 2 ? bytes[i + 1] << 8U : 0U);
        out += alphabet[(v >> 18U) & 63U];
        out += alphabet[(v >> 12U) & 63U];
        out += rest == 2 ? alphabet[(v >> 6U) & 63U] : '=';
        out += '=';
    }
    return out;
}

std::string base64(std::string_view text)
{
    return base64(std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

// base64(HMAC-SHA256(secret, value)) without '=' padding: 43 characters.
std::string signature_of(std::string_view value, std::string_view secret)
{
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_len = 0;
    const unsigned char* ok =
        HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac.data(),
             &mac_len);
    if (ok == nullptr) {
        throw std::runtime_error("HMAC failed");
    }
    std::string sig = base64(std::span<const unsigned char>(mac.data(), mac_len));
    while (!sig.empty() && sig.back() == '=') {
        sig.pop_back();
    }
    return sig;
}

}  // namespace sessionkit::test
