// Redis replies: whatever bytes come from the socket, our reader (hiredis's parser building our
// replies directly) never crashes and gives exactly what hiredis's own reply objects, copied,
// give (the plain path): the same replies, in the same order, broken at the same point. Each
// reply is also read as a cluster's slot map and as a MOVED/ASK error (a map, when there is one,
// is consistent), and the bytes as a pipeline to split.
#include "redis_reply_reader.hpp"
#include "redis_slot_map.hpp"

#include <hiredis/hiredis.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

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

// A slot map read from any reply: never a crash, and when there is one, it is consistent.
void check_cluster_readers(const sessionkit::detail::redis_reply& reply) {
  using namespace sessionkit::detail;
  if (const auto map = parse_cluster_slots(reply, "127.0.0.1:7000")) {
    std::size_t uncovered = 0;
    for (const std::int16_t owner : map->owner) {
      if (owner < 0) ++uncovered;
      else if (std::size_t(owner) >= map->masters.size()) std::abort();
    }
    if (uncovered != map->uncovered) std::abort();
  }
  const std::string target = redirect_target(reply.text, "127.0.0.1:7000");
  if (!target.empty() && target.find(':') == std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto* bytes = reinterpret_cast<const char*>(data);
  if (announces_huge_length(std::string_view(bytes, size))) return 0;
  redisReader* plain = redisReaderCreate();
  sessionkit::detail::redis_reply_reader fast;
  // Fed in two pieces, as a socket may deliver them.
  const std::size_t half = size / 2;
  const bool plain_fed = redisReaderFeed(plain, bytes, half) == REDIS_OK;
  if (plain_fed != fast.feed(bytes, half)) std::abort();
  for (int piece = 0; piece < 2; ++piece) {
    if (piece == 1 && (redisReaderFeed(plain, bytes + half, size - half) == REDIS_OK) !=
                          fast.feed(bytes + half, size - half))
      std::abort();
    for (int i = 0; i < 64; ++i) {
      void* reply = nullptr;
      const bool plain_broken = redisReaderGetReply(plain, &reply) != REDIS_OK;
      bool fast_broken = false;
      const auto got = fast.next(fast_broken);
      if (plain_broken != fast_broken || (reply != nullptr) != got.has_value()) std::abort();
      if (!reply) break;
      if (sessionkit::detail::copy_reply(static_cast<redisReply*>(reply)) != *got) std::abort();
      check_cluster_readers(*got);
      freeReplyObject(reply);
    }
  }
  redisReaderFree(plain);
  // The bytes as a pipeline of commands: each part split again is exactly itself.
  for (const std::string_view part : sessionkit::detail::split_resp_commands(std::string_view(bytes, size))) {
    const auto again = sessionkit::detail::split_resp_commands(part);
    if (again.size() != 1 || again[0] != part) std::abort();
  }
  return 0;
}
