// The reply reader builds replies through hiredis's object callbacks (the fast path); copying
// hiredis's own reply objects (the plain path) must give the same, for every kind of reply, fed
// whole or byte by byte. (The fuzz target fuzz_redis_reply checks the same on random bytes.)
#include "redis_reply_reader.hpp"

#include <hiredis/hiredis.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sessionkit::detail {
namespace {

using kind = redis_reply::kind;

std::vector<redis_reply> plain_path(const std::string& bytes) {
  std::vector<redis_reply> out;
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, bytes.data(), bytes.size());
  void* reply = nullptr;
  while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply) {
    out.push_back(copy_reply(static_cast<redisReply*>(reply)));
    freeReplyObject(reply);
  }
  redisReaderFree(reader);
  return out;
}

std::vector<redis_reply> fast_path(const std::string& bytes, std::size_t piece) {
  std::vector<redis_reply> out;
  redis_reply_reader reader;
  bool broken = false;
  for (std::size_t at = 0; at < bytes.size() && !broken; at += piece) {
    EXPECT_TRUE(reader.feed(bytes.data() + at, std::min(piece, bytes.size() - at)));
    while (auto r = reader.next(broken)) out.push_back(std::move(*r));
  }
  EXPECT_FALSE(broken);
  return out;
}

const std::string every_kind =
    "+OK\r\n"                            // status
    "-ERR wrong\r\n"                     // error
    ":-42\r\n"                           // integer
    "$5\r\nhello\r\n"                    // string
    "$0\r\n\r\n"                         // empty string
    "$-1\r\n"                            // nil
    "*-1\r\n"                            // nil array
    "*0\r\n"                             // empty array
    "*3\r\n$1\r\na\r\n$-1\r\n:7\r\n"     // flat array with a nil inside
    "*2\r\n*2\r\n+QUEUED\r\n*1\r\n:1\r\n$3\r\nend\r\n"  // nested arrays (MULTI/EXEC-like)
    "$37\r\n{\"cookie\":{\"path\":\"/\"},\"count\":12345}\r\n";  // a session record

TEST(redis_reply_reader, agrees_with_hiredis_reply_objects_whole_and_byte_by_byte) {
  const auto expected = plain_path(every_kind);
  ASSERT_EQ(expected.size(), 11u);
  EXPECT_EQ(fast_path(every_kind, every_kind.size()), expected);
  EXPECT_EQ(fast_path(every_kind, 1), expected);
  EXPECT_EQ(fast_path(every_kind, 7), expected);
}

TEST(redis_reply_reader, builds_the_reply_it_reads) {
  const auto got = fast_path("*2\r\n*2\r\n+QUEUED\r\n*1\r\n:1\r\n$3\r\nend\r\n", 3);
  ASSERT_EQ(got.size(), 1u);
  const redis_reply& r = got[0];
  ASSERT_EQ(r.type, kind::array);
  ASSERT_EQ(r.elements.size(), 2u);
  EXPECT_EQ(r.elements[0].elements[0].type, kind::status);
  EXPECT_EQ(r.elements[0].elements[0].text, "QUEUED");
  EXPECT_EQ(r.elements[0].elements[1].elements[0].integer, 1);
  EXPECT_EQ(r.elements[1].text, "end");
}

TEST(redis_reply_reader, bytes_that_are_no_reply_break_the_stream) {
  redis_reply_reader reader;
  ASSERT_TRUE(reader.feed("+OK\r\n!what\r\n", 12));
  bool broken = false;
  auto first = reader.next(broken);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->text, "OK");
  EXPECT_FALSE(reader.next(broken));
  EXPECT_TRUE(broken);
  EXPECT_FALSE(reader.feed("+OK\r\n", 5));  // stays broken
}

}  // namespace
}  // namespace sessionkit::detail
