// JSON: parse never crashes; stringify of a parsed value parses back to the same text.
#include <sessionkit/json.hpp>

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::error_code ec;
  auto value = sessionkit::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (!value) return 0;
  const std::string text = sessionkit::stringify(*value);
  auto again = sessionkit::parse_json(text, ec);
  if (!again || sessionkit::stringify(*again) != text) std::abort();
  return 0;
}
