#pragma once
// Redis replies parsed from any bytes. hiredis's reader does the parsing (RESP2); its object
// callbacks build our `redis_reply` directly, so a reply is allocated once, not built by hiredis
// and then copied (the speed trick lives here, and `copy_reply`, the plain path over hiredis's
// own reply objects, is kept to test that both agree).

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct redisReader;
struct redisReply;

namespace sessionkit::detail {

/// A reply.
struct redis_reply {
  enum class kind { nil, string, integer, array, status, error };
  kind type = kind::nil;
  std::string text;  // string, status or error text
  long long integer = 0;
  std::vector<redis_reply> elements;

  bool operator==(const redis_reply&) const = default;
};

/// Copies a hiredis reply object (nullptr gives nil): the plain path.
redis_reply copy_reply(const redisReply* reply);

class redis_reply_reader {
 public:
  redis_reply_reader();
  ~redis_reply_reader();
  redis_reply_reader(const redis_reply_reader&) = delete;
  redis_reply_reader& operator=(const redis_reply_reader&) = delete;

  /// Adds bytes from the socket; false when they cannot be a reply (the stream is broken).
  bool feed(const char* data, std::size_t size);
  /// The next complete reply, if one is there. Sets `broken` when the bytes are no reply.
  std::optional<redis_reply> next(bool& broken);

 private:
  redisReader* reader_;
  std::unique_ptr<redis_reply> spare_;  // a root to build the next reply in
};

}  // namespace sessionkit::detail
