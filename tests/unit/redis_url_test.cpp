#include <sessionkit/stores/redis_store.hpp>

#include <gtest/gtest.h>

namespace sessionkit::test {
namespace {

TEST(redis_url, parses_tcp_urls) {
  auto e = parse_redis_url("redis://127.0.0.1:6379");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 6379);
  EXPECT_EQ(e.database, 0u);
  EXPECT_TRUE(e.password.empty());
  e = parse_redis_url("redis://user:p%40ss@cache.internal:7000/3");
  EXPECT_EQ(e.username, "user");
  EXPECT_EQ(e.password, "p@ss");
  EXPECT_EQ(e.host, "cache.internal");
  EXPECT_EQ(e.port, 7000);
  EXPECT_EQ(e.database, 3u);
  e = parse_redis_url("redis://:secret@[::1]:6380/");
  EXPECT_EQ(e.username, "");
  EXPECT_EQ(e.password, "secret");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 6380);
  e = parse_redis_url("redis://");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 6379);
}

TEST(redis_url, parses_unix_socket_urls) {
  auto e = parse_redis_url("unix:/run/redis/redis.sock?db=2&password=x%26y");
  EXPECT_EQ(e.unix_socket, "/run/redis/redis.sock");
  EXPECT_EQ(e.database, 2u);
  EXPECT_EQ(e.password, "x&y");
  EXPECT_EQ(parse_redis_url("unix:///tmp/r.sock").unix_socket, "/tmp/r.sock");
}

TEST(redis_url, rediss_is_redis_over_tls) {
  const redis_endpoint ep = parse_redis_url("rediss://user:pw@cache.example.com:6380/2");
  EXPECT_TRUE(ep.tls.enabled);
  EXPECT_TRUE(ep.tls.verify);
  EXPECT_EQ(ep.host, "cache.example.com");
  EXPECT_EQ(ep.port, 6380);
  EXPECT_EQ(ep.database, 2u);
  EXPECT_EQ(ep.username, "user");
  EXPECT_FALSE(parse_redis_url("redis://cache.example.com").tls.enabled);
}

TEST(redis_url, redis_sentinel_names_the_sentinels_and_the_master) {
  const redis_endpoint ep = parse_redis_url(
      "redis-sentinel://app:pw@s1.example.com:26379,[::1]:26380,s3/mymaster?db=3&sentinel_password=spw&sentinel_user=su");
  ASSERT_EQ(ep.sentinel.sentinels.size(), 3u);
  EXPECT_EQ(ep.sentinel.sentinels[0], (std::pair<std::string, std::uint16_t>{"s1.example.com", 26379}));
  EXPECT_EQ(ep.sentinel.sentinels[1], (std::pair<std::string, std::uint16_t>{"::1", 26380}));
  EXPECT_EQ(ep.sentinel.sentinels[2], (std::pair<std::string, std::uint16_t>{"s3", 26379}));
  EXPECT_EQ(ep.sentinel.master_name, "mymaster");
  EXPECT_EQ(ep.sentinel.username, "su");
  EXPECT_EQ(ep.sentinel.password, "spw");
  EXPECT_EQ(ep.username, "app");
  EXPECT_EQ(ep.password, "pw");
  EXPECT_EQ(ep.database, 3u);
  for (const char* bad : {"redis-sentinel://s1:26379", "redis-sentinel://s1:26379/", "redis-sentinel:///m",
                          "redis-sentinel://s1:0/m", "redis-sentinel://s1/m?colour=red"})
    EXPECT_THROW(parse_redis_url(bad), std::invalid_argument) << bad;
}

TEST(redis_url, rediss_sentinel_is_sentinel_through_tls) {
  const redis_endpoint ep = parse_redis_url("rediss-sentinel://:pw@s1:26379,s2:26380/mymaster?sentinel_password=spw");
  EXPECT_TRUE(ep.tls.enabled);
  EXPECT_TRUE(ep.tls.verify);
  ASSERT_EQ(ep.sentinel.sentinels.size(), 2u);
  EXPECT_EQ(ep.sentinel.master_name, "mymaster");
  EXPECT_EQ(ep.password, "pw");
  EXPECT_EQ(ep.sentinel.password, "spw");
  EXPECT_FALSE(parse_redis_url("redis-sentinel://s1/m").tls.enabled);
  EXPECT_THROW(parse_redis_url("rediss-sentinel://s1:26379"), std::invalid_argument);
}

TEST(redis_url, is_redis_url_goes_by_the_scheme) {
  for (const char* url : {"redis://h", "rediss://h", "redis-sentinel://h/m", "rediss-sentinel://h/m", "unix:/s"})
    EXPECT_TRUE(is_redis_url(url)) << url;
  for (const char* url : {"memory", "sqlite:/x.db", "http://h", "redis:/h", ""}) EXPECT_FALSE(is_redis_url(url)) << url;
}

TEST(redis_url, rejects_bad_urls_without_echoing_the_password) {
  for (const char* bad : {"http://x", "redis://host:notaport", "redis://host:70000", "redis://host:0",
                          "redis://host/db", "redis://[::1", "unix:relative.sock", "unix:/s?db=x",
                          "unix:/s?colour=red", "redis://u:%zz@host", "redis://ho st"}) {
    EXPECT_THROW(parse_redis_url(bad), std::invalid_argument) << bad;
  }
  for (const char* url : {"redis://user:hunter2@host:bad", "unix:/s?password=hunter2&db=abc",
                          "unix:/s?db=abc&password=hunter2", "rediss://u:hunter2@host:bad",
                          "redis-sentinel://:hunter2@h:1/m?password=hunter2"}) {
    try {
      parse_redis_url(url);
      FAIL() << url;
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
    }
  }
}

TEST(redis_ttl, follows_connect_redis) {
  redis_store_options o;
  const timestamp at{std::chrono::seconds(1000)};
  EXPECT_EQ(redis_ttl_for(o, {"{}", std::nullopt}, at), 86400);
  EXPECT_EQ(redis_ttl_for(o, {"{}", at + std::chrono::milliseconds(60000)}, at), 60);
  EXPECT_EQ(redis_ttl_for(o, {"{}", at + std::chrono::milliseconds(59001)}, at), 60);  // ceil
  EXPECT_EQ(redis_ttl_for(o, {"{}", at + std::chrono::milliseconds(1)}, at), 1);
  EXPECT_EQ(redis_ttl_for(o, {"{}", at}, at), 0);
  EXPECT_EQ(redis_ttl_for(o, {"{}", at - std::chrono::milliseconds(1500)}, at), -1);
  o.ttl_seconds = 0;  // `ttl || 86400`
  EXPECT_EQ(redis_ttl_for(o, {"{}", std::nullopt}, at), 86400);
  o.ttl_seconds = 10;
  EXPECT_EQ(redis_ttl_for(o, {"{}", std::nullopt}, at), 10);
  o.ttl_function = [](const session_record&) { return 7LL; };
  EXPECT_EQ(redis_ttl_for(o, {"{}", at + std::chrono::hours(1)}, at), 7);
}

}  // namespace
}  // namespace sessionkit::test
