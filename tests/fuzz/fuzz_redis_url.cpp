// Redis URLs: parsed or refused with std::invalid_argument, never anything else.
#include <sessionkit/stores/redis_store.hpp>

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto e = sessionkit::parse_redis_url(std::string_view(reinterpret_cast<const char*>(data), size));
    if (e.unix_socket.empty() && (e.port == 0 || e.host.empty())) std::abort();
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
