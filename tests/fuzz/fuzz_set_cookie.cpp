// Set-Cookie serialisation from fuzzed attributes: either a clear invalid_cookie error, or a
// header whose name=value part parses back to the same name and value.
#include <sessionkit/cookie.hpp>

#include <cstdint>
#include <cstdlib>

namespace {

// Splits the input at NUL bytes into fields.
std::vector<std::string> fields(std::string_view s, std::size_t n) {
  std::vector<std::string> out;
  while (out.size() + 1 < n) {
    const std::size_t nul = s.find('\0');
    if (nul == std::string_view::npos) break;
    out.emplace_back(s.substr(0, nul));
    s.remove_prefix(nul + 1);
  }
  out.emplace_back(s);
  out.resize(n);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto f = fields(std::string_view(reinterpret_cast<const char*>(data), size), 7);
  sessionkit::set_cookie_options o;
  if (!f[2].empty()) o.domain = f[2];
  if (!f[3].empty()) o.path = f[3];
  if (!f[4].empty()) o.priority = f[4];
  if (f[5] == "true") o.same_site = true;
  else if (!f[5].empty()) o.same_site = f[5];
  if (!f[6].empty()) {
    unsigned long long ms = 0;
    for (unsigned char c : f[6]) ms = ms * 31 + c;
    o.expires = sessionkit::timestamp{std::chrono::milliseconds(static_cast<long long>(ms % 253402300799999ULL))};
    o.http_only = f[6].size() % 2;
    o.secure = f[6].size() % 3 == 0;
    o.partitioned = f[6].size() % 5 == 0;
  }
  std::string header;
  try {
    header = sessionkit::serialize_set_cookie(f[0], f[1], o);
  } catch (const sessionkit::invalid_cookie&) {
    return 0;
  }
  // The browser sends back `name=value`: it must read as what we set.
  const std::string pair = header.substr(0, header.find(';'));
  if (sessionkit::find_cookie(pair, f[0]) != f[1]) std::abort();
  return 0;
}
