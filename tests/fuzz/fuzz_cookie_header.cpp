// Cookie header parsing: never crashes, find_cookie agrees with parse_cookie_header, and
// percent-decoding round-trips through encode_uri_component.
#include <sessionkit/cookie.hpp>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  const auto pairs = sessionkit::parse_cookie_header(header);
  for (const auto& p : pairs) {
    if (sessionkit::find_cookie(header, p.name) != p.value) std::abort();
  }
  if (auto decoded = sessionkit::decode_uri_component(header)) {
    // Raw (unescaped) bytes pass through decoding as they are; when the result is UTF-8 it
    // encodes, and decodes back to itself.
    std::string encoded;
    try {
      encoded = sessionkit::encode_uri_component(*decoded);
    } catch (const std::invalid_argument&) {
      return 0;
    }
    if (sessionkit::decode_uri_component(encoded) != decoded) std::abort();
  }
  return 0;
}
