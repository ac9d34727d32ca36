// The pieces of the Redis Cluster client that need no cluster: hash slots (checked against
// values Redis itself gives: CLUSTER KEYSLOT), hash tags, splitting a pipeline back into its
// commands (for redirecting one of them), the slot map from a CLUSTER SLOTS reply, MOVED/ASK
// targets, and redis-cluster:// URLs.
#include "redis_hash_slot.hpp"
#include "redis_slot_map.hpp"

#include <sessionkit/stores/redis_store.hpp>

#include <gtest/gtest.h>

namespace sessionkit::detail {
namespace {

using kind = redis_reply::kind;

TEST(redis_hash_slot, crc16_is_xmodem) {
  EXPECT_EQ(redis_crc16("123456789"), 0x31C3);  // the CRC16/XMODEM check value
  EXPECT_EQ(redis_crc16(""), 0);
}

TEST(redis_hash_slot, agrees_with_cluster_keyslot) {
  // redis-cli CLUSTER KEYSLOT <key> on Redis 7.0.15.
  EXPECT_EQ(redis_hash_slot("foo"), 12182u);
  EXPECT_EQ(redis_hash_slot("bar"), 5061u);
  EXPECT_EQ(redis_hash_slot("sess:abc"), redis_crc16("sess:abc") % 16384u);
  EXPECT_EQ(redis_hash_slot("{user1000}.following"), redis_hash_slot("{user1000}.followers"));
  EXPECT_EQ(redis_hash_slot("{user1000}.following"), redis_hash_slot("user1000"));
}

TEST(redis_hash_slot, hash_tags_follow_the_rules) {
  EXPECT_EQ(redis_hash_tag("foo{bar}zap"), "bar");
  EXPECT_EQ(redis_hash_tag("foo{}{bar}"), "foo{}{bar}");  // empty tag: the whole key
  EXPECT_EQ(redis_hash_tag("foo{{bar}}zap"), "{bar");     // from the first '{' to the next '}'
  EXPECT_EQ(redis_hash_tag("foo{bar}{zap}"), "bar");
  EXPECT_EQ(redis_hash_tag("foo{bar"), "foo{bar");
  EXPECT_EQ(redis_hash_tag("nobraces"), "nobraces");
  // The lock key of a session sits in the session's slot.
  EXPECT_EQ(redis_hash_slot("sessionkit-lock:{sess:Yk2xQ}"), redis_hash_slot("sess:Yk2xQ"));
}

TEST(resp_split, gives_back_each_command) {
  const std::string a = resp_command({"SET", "k", "v\r\nwith a line break", "NX"});
  const std::string b = resp_command({"GET", "k"});
  const std::string c = resp_command({"PTTL", ""});
  const std::string wire = a + b + c;
  const auto parts = split_resp_commands(wire);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], a);
  EXPECT_EQ(parts[1], b);
  EXPECT_EQ(parts[2], c);
  for (std::string broken : {std::string("*1\r\n$3\r\nGE"), std::string("*1\r\n$3\r\nGETX\r\n"), std::string("GET k\r\n"),
                             std::string("*x\r\n"), a.substr(0, a.size() - 1)})
    EXPECT_TRUE(split_resp_commands(broken).empty()) << broken;
}

redis_reply integer(long long n) { return {kind::integer, "", n, {}}; }
redis_reply text(std::string s) { return {kind::string, std::move(s), 0, {}}; }
redis_reply array(std::vector<redis_reply> e) { return {kind::array, "", 0, std::move(e)}; }

TEST(slot_map, parses_cluster_slots) {
  const redis_reply reply = array({
      array({integer(0), integer(5460), array({text("10.0.0.1"), integer(7001), text("id1")}),
             array({text("10.0.0.4"), integer(7004), text("id4")})}),
      array({integer(5461), integer(10922), array({text(""), integer(7002), text("id2")})}),
      array({integer(10923), integer(16383), array({text("10.0.0.3"), integer(7003)})}),
      array({integer(16000), integer(16000), array({text("10.0.0.1"), integer(7001)})}),  // a slot listed again
  });
  const auto map = parse_cluster_slots(reply, "10.0.0.9:7002");
  ASSERT_TRUE(map);
  EXPECT_EQ(map->masters, (std::vector<std::string>{"10.0.0.1:7001", "10.0.0.3:7003", "10.0.0.9:7002"}));
  EXPECT_EQ(map->uncovered, 0u);
  EXPECT_EQ(map->masters[std::size_t(map->owner[0])], "10.0.0.1:7001");
  EXPECT_EQ(map->masters[std::size_t(map->owner[5461])], "10.0.0.9:7002");  // no host: the node asked
  EXPECT_EQ(map->masters[std::size_t(map->owner[16383])], "10.0.0.3:7003");
  EXPECT_EQ(map->masters[std::size_t(map->owner[16000])], "10.0.0.1:7001");
}

TEST(slot_map, counts_slots_without_a_master_and_refuses_what_is_no_map) {
  const auto half = parse_cluster_slots(array({array({integer(0), integer(8191), array({text("h"), integer(1)})})}), "h:1");
  ASSERT_TRUE(half);
  EXPECT_EQ(half->uncovered, 8192u);
  EXPECT_EQ(half->owner[8192], -1);
  const auto none = parse_cluster_slots(array({}), "h:1");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->masters.empty());
  EXPECT_FALSE(parse_cluster_slots({kind::error, "ERR This instance has cluster support disabled", 0, {}}, "h:1"));
  EXPECT_FALSE(parse_cluster_slots(array({array({integer(0), integer(16384), array({text("h"), integer(1)})})}), "h:1"));
  EXPECT_FALSE(parse_cluster_slots(array({array({integer(9), integer(3), array({text("h"), integer(1)})})}), "h:1"));
  EXPECT_FALSE(parse_cluster_slots(array({array({integer(0), integer(3), array({text("h"), integer(0)})})}), "h:1"));
  EXPECT_FALSE(parse_cluster_slots(array({array({integer(0), integer(3)})}), "h:1"));
  EXPECT_FALSE(parse_cluster_slots(array({text("x")}), "h:1"));
}

TEST(slot_map, redirect_targets) {
  EXPECT_EQ(redirect_target("MOVED 3999 127.0.0.1:6381", "127.0.0.1:7000"), "127.0.0.1:6381");
  EXPECT_EQ(redirect_target("ASK 3999 10.1.2.3:7002", "127.0.0.1:7000"), "10.1.2.3:7002");
  EXPECT_EQ(redirect_target("MOVED 3999 :6381", "10.0.0.5:7000"), "10.0.0.5:6381");
  EXPECT_EQ(redirect_target("MOVED 3999", "h:1"), "");
  EXPECT_EQ(redirect_target("TRYAGAIN Multiple keys request during rehashing of slot", "h:1"), "");
  EXPECT_TRUE(needs_redirect({kind::error, "MOVED 1 h:2", 0, {}}));
  EXPECT_TRUE(needs_redirect({kind::error, "ASK 1 h:2", 0, {}}));
  EXPECT_TRUE(needs_redirect({kind::error, "TRYAGAIN Multiple keys", 0, {}}));
  EXPECT_FALSE(needs_redirect({kind::string, "MOVED 1 h:2", 0, {}}));
  EXPECT_FALSE(needs_redirect({kind::error, "CLUSTERDOWN The cluster is down", 0, {}}));
}

TEST(redis_url, redis_cluster_names_the_seed_nodes) {
  const redis_endpoint ep = parse_redis_url("redis-cluster://app:pw@n1.example.com:7001,[::1]:7002,n3?refresh_ms=2000");
  ASSERT_EQ(ep.cluster.seeds.size(), 3u);
  EXPECT_EQ(ep.cluster.seeds[0], (std::pair<std::string, std::uint16_t>{"n1.example.com", 7001}));
  EXPECT_EQ(ep.cluster.seeds[1], (std::pair<std::string, std::uint16_t>{"::1", 7002}));
  EXPECT_EQ(ep.cluster.seeds[2], (std::pair<std::string, std::uint16_t>{"n3", 6379}));
  EXPECT_EQ(ep.cluster.refresh_interval, std::chrono::milliseconds(2000));
  EXPECT_EQ(ep.username, "app");
  EXPECT_EQ(ep.password, "pw");
  EXPECT_FALSE(ep.tls.enabled);
  EXPECT_TRUE(ep.sentinel.sentinels.empty());
  EXPECT_TRUE(parse_redis_url("rediss-cluster://:pw@n1:7001").tls.enabled);
  EXPECT_EQ(parse_redis_url("redis-cluster://n1:7001/0").cluster.seeds.size(), 1u);
  EXPECT_TRUE(is_redis_url("redis-cluster://n1:7001"));
  EXPECT_TRUE(is_redis_url("rediss-cluster://n1:7001"));
  EXPECT_TRUE(parse_redis_url("redis://h").cluster.seeds.empty());
  for (const char* bad : {"redis-cluster://", "redis-cluster://n1:7001/3", "redis-cluster://n1:0",
                          "redis-cluster://n1?refresh_ms=10", "redis-cluster://n1?db=2",
                          "redis-cluster://:hunter2@n1:7001?colour=red"}) {
    try {
      parse_redis_url(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace sessionkit::detail

#include "cluster_slot_walk.hpp"

namespace sessionkit::detail {
namespace {

TEST(cluster_nodes, reads_what_the_answering_node_serves_migrates_and_knows) {
  const std::string text =
      "e7d1 127.0.0.1:30004@31004 slave 67ed 0 1426238317239 4 connected\n"
      "67ed 127.0.0.1:30002@31002,host2 master - 0 1426238316232 2 connected 5461-10922\n"
      "292f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383\n"
      "6ec2 :30001@31001 myself,master - 0 0 1 connected 0-5459 5460 [5460->-67ed] [77-<-292f]\n";
  const cluster_nodes_view v = parse_cluster_nodes(text, "10.0.0.1:30001");
  EXPECT_TRUE(v.owns(0));
  EXPECT_TRUE(v.owns(5460));
  EXPECT_FALSE(v.owns(5461));
  EXPECT_EQ(v.migrating_to(5460), "127.0.0.1:30002");
  EXPECT_FALSE(v.migrating_to(77));  // importing is not migrating away
  EXPECT_FALSE(v.migrating_to(5459));
  EXPECT_EQ(v.server_of(6000), "127.0.0.1:30002");
  EXPECT_EQ(v.server_of(16383), "127.0.0.1:30003");
  EXPECT_EQ(v.server_of(10), "10.0.0.1:30001");  // no host: the node that answered
  EXPECT_TRUE(parse_cluster_nodes("", "h:1").own.empty());
  EXPECT_TRUE(parse_cluster_nodes("garbage\nmore garbage words\n", "h:1").served.empty());
}

}  // namespace
}  // namespace sessionkit::detail
