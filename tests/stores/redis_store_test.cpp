// RedisStore against a real redis-server started by the test: the store contract and
// connect-redis's keys, values, TTLs and commands, checked with GET / TTL on the server.

#include <sessionkit/stores/redis_store.hpp>

#include "support/redis_cluster.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <boost/asio/post.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <set>
#include <thread>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

// A store on an io_context running in its own thread, with blocking helpers for the tests.
class redis_store_fixture : public ::testing::Test {
 protected:
  void SetUp() override { thread_ = std::thread([this] { io_.run(); }); }
  void TearDown() override {
    if (store_) store_->shutdown();
    work_.reset();
    // Let the stop complete, then end the loop.
    std::this_thread::sleep_for(20ms);
    io_.stop();
    thread_.join();
  }

  redis_store& open(redis_store_options o = {}) {
    if (o.endpoint.port == 6379) o.endpoint = parse_redis_url(redis_.url());
    store_ = std::make_unique<redis_store>(io_.get_executor(), std::move(o));
    wait_ready();
    return *store_;
  }

  void wait_ready(std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!store_->ready() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(store_->ready());
  }

  std::pair<std::error_code, std::optional<std::string>> get(std::string id) {
    std::promise<std::pair<std::error_code, std::optional<std::string>>> p;
    store_->get(id, [&](std::error_code ec, std::optional<std::string> v) { p.set_value({ec, std::move(v)}); });
    return p.get_future().get();
  }
  template <class Op>
  std::error_code run(Op op) {
    std::promise<std::error_code> p;
    op([&](std::error_code ec) { p.set_value(ec); });
    return p.get_future().get();
  }
  std::error_code set(std::string id, std::string json, std::optional<timestamp> expires) {
    return run([&](completion_handler h) { store_->set(id, {std::move(json), expires}, std::move(h)); });
  }
  std::error_code touch(std::string id, std::optional<timestamp> expires) {
    return run([&](completion_handler h) { store_->touch(id, {"{}", expires}, std::move(h)); });
  }
  std::error_code destroy(std::string id) {
    return run([&](completion_handler h) { store_->destroy(id, std::move(h)); });
  }
  // GETs of ids prefix0 .. prefix(n-1), all started in one turn of the event loop; their answers.
  std::vector<std::optional<std::string>> gets_in_one_turn(const std::string& prefix, int n) {
    std::promise<void> all_done;
    std::atomic<int> answered{0};
    std::vector<std::optional<std::string>> got(static_cast<std::size_t>(n));
    boost::asio::post(io_, [&] {
      for (int i = 0; i < n; ++i)
        store_->get(prefix + std::to_string(i), [&, i](std::error_code ec, std::optional<std::string> v) {
          EXPECT_FALSE(ec);
          got[std::size_t(i)] = std::move(v);
          if (++answered == n) all_done.set_value();
        });
    });
    all_done.get_future().wait();
    return got;
  }

  redis_server redis_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  std::thread thread_;
  std::unique_ptr<redis_store> store_;
};

const std::string record = R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"n":1})";

TEST_F(redis_store_fixture, set_get_destroy_with_connect_redis_keys) {
  open();
  EXPECT_FALSE(set("abc", record, std::nullopt));
  EXPECT_EQ(redis_.get("sess:abc"), record);
  auto [ec, v] = get("abc");
  EXPECT_FALSE(ec);
  EXPECT_EQ(v, record);
  EXPECT_EQ(get("missing").second, std::nullopt);
  EXPECT_FALSE(destroy("abc"));
  EXPECT_EQ(redis_.get("sess:abc"), std::nullopt);
  EXPECT_FALSE(destroy("abc"));  // destroying nothing is fine
}

// The user index in Redis itself: a sorted set per user outside `sess:*`, scored by expiry, that
// holds no dead id after a destroy and is gone once its last session expired.
TEST_F(redis_store_fixture, the_user_index_is_a_sorted_set_that_holds_no_dead_ids) {
  open();
  const std::string alice = R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"user":"alice"})";
  EXPECT_FALSE(run([&](completion_handler h) { store_->set("a1", {alice, now() + 1h, "alice"}, std::move(h)); }));
  EXPECT_FALSE(run([&](completion_handler h) { store_->set("a2", {alice, now() + 1500ms, "alice"}, std::move(h)); }));
  auto members = [&] {
    std::vector<std::string> out;
    for (const auto& e : redis_.command({"ZRANGE", "sessionkit-user:alice", "0", "-1"}).elements) out.push_back(e.text);
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(members(), (std::vector<std::string>{"a1", "a2"}));
  const long long score = std::stoll(redis_.command({"ZSCORE", "sessionkit-user:alice", "a1"}).text);
  EXPECT_NEAR(double(score), double((now() + 1h).time_since_epoch().count()), 5000.0);
  const long long index_ttl = redis_.command({"PTTL", "sessionkit-user:alice"}).integer;
  EXPECT_GT(index_ttl, 3500 * 1000);  // as long as its longest session
  // Not a session: SCAN of sess:* (connect-redis's all/ids/length) never sees it.
  std::promise<std::size_t> n;
  store_->length([&](std::error_code, std::size_t v) { n.set_value(v); });
  EXPECT_EQ(n.get_future().get(), 2u);
  // A destroy takes the id out at once, in the same script.
  EXPECT_FALSE(destroy("a1"));
  EXPECT_EQ(members(), (std::vector<std::string>{"a2"}));
  // When its last session expires the set goes too.
  EXPECT_FALSE(run([&](completion_handler h) { store_->touch("a2", {alice, now() + 1500ms, "alice"}, std::move(h)); }));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (redis_.command({"EXISTS", "sessionkit-user:alice"}).integer == 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(redis_.command({"EXISTS", "sessionkit-user:alice"}).integer, 0);
  EXPECT_EQ(redis_.get("sess:a2"), std::nullopt);
}

// The lock and compare-and-set scripts go by EVALSHA; a Redis that lost its script cache (a
// restart, SCRIPT FLUSH) gets the body again, and the lock key sits outside the session prefix,
// in the session key's hash slot ({sess:ID} is its hash tag).
TEST_F(redis_store_fixture, scripts_survive_a_flushed_script_cache_and_lock_keys_are_apart) {
  open();
  EXPECT_FALSE(set("s", record, std::nullopt));
  auto lock = [&](const std::string& owner) {
    std::promise<lock_result> p;
    store_->lock_and_get("s", {owner, 5s}, [&](lock_result r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  redis_.command({"SCRIPT", "FLUSH"});
  lock_result a = lock("a");
  ASSERT_FALSE(a.error);
  EXPECT_TRUE(a.acquired);
  EXPECT_EQ(a.json, record);
  EXPECT_EQ(redis_.get("sessionkit-lock:{sess:s}"), "a");
  EXPECT_GT(redis_.command({"PTTL", "sessionkit-lock:{sess:s}"}).integer, 0);
  redis_.command({"SCRIPT", "FLUSH"});
  locked_write w;
  w.what = locked_write::kind::set;
  w.record = {R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"n":2})", std::nullopt};
  w.condition = write_condition::if_present;
  EXPECT_FALSE(run([&](completion_handler h) { store_->write_and_unlock("s", "a", std::move(w), std::move(h)); }));
  EXPECT_EQ(redis_.get("sessionkit-lock:{sess:s}"), std::nullopt);
  EXPECT_NE(redis_.get("sess:s").value_or("").find(R"("n":2)"), std::string::npos);
  redis_.command({"SCRIPT", "FLUSH"});
  std::promise<compare_and_set_result> p;
  store_->compare_and_set("s", "stale", {record, std::nullopt}, [&](compare_and_set_result r) { p.set_value(std::move(r)); });
  const compare_and_set_result r = p.get_future().get();
  EXPECT_EQ(r.error, error::record_changed);
  EXPECT_NE(r.current.value_or("").find(R"("n":2)"), std::string::npos);
}

// Batching: the commands of many requests ready in one turn of the event loop go out in one
// write, and their replies come back in order.
TEST_F(redis_store_fixture, commands_of_one_turn_share_one_write) {
  open();
  for (int i = 0; i < 200; ++i) ASSERT_FALSE(set("b" + std::to_string(i), record, std::nullopt));
  const std::uint64_t before = store_->writes();
  const auto got = gets_in_one_turn("b", 200);
  EXPECT_LE(store_->writes() - before, 2u) << "200 commands of one turn took " << store_->writes() - before
                                           << " writes";
  for (const auto& v : got) EXPECT_EQ(v, record);
}

// With wait_replicas, the writes of one turn share one WAIT (Redis blocks a connection on WAIT,
// so a WAIT per write would make each write behind it wait for the replica in turn), and each
// is acknowledged only with the replica having it.
TEST_F(redis_store_fixture, writes_of_one_turn_share_one_wait_for_replicas) {
  redis_.command({"CONFIG", "SET", "repl-diskless-sync-delay", "0"});  // the replica's first sync at once
  redis_server replica(false, {"--replicaof", "127.0.0.1", std::to_string(redis_.port())});
  for (int i = 0; i < 200 && redis_.command({"INFO", "replication"}).text.find("state=online") == std::string::npos; ++i)
    std::this_thread::sleep_for(25ms);
  redis_store_options o;
  o.wait_replicas = 1;
  o.wait_timeout = 1500ms;  // generous: a loaded 2-core machine starves the replica for a while
  open(std::move(o));
  const auto waits = [&] {
    const std::string stats = redis_.command({"INFO", "commandstats"}).text;
    const auto at = stats.find("cmdstat_wait:calls=");
    return at == std::string::npos ? 0 : std::stoi(stats.substr(at + 19));
  };
  const int before = waits();
  std::promise<void> all_done;
  std::atomic<int> answered{0};
  boost::asio::post(io_, [&] {
    for (int i = 0; i < 100; ++i)
      store_->set("w" + std::to_string(i), {record, std::nullopt}, [&](std::error_code ec) {
        EXPECT_FALSE(ec) << ec.message();
        if (++answered == 100) all_done.set_value();
      });
  });
  all_done.get_future().wait();
  EXPECT_LE(waits() - before, 2) << "100 writes of one turn took " << waits() - before << " WAITs";
  for (int i = 0; i < 100; ++i) EXPECT_EQ(replica.get("sess:w" + std::to_string(i)), record);
  // Without the replica, no write is acknowledged.
  replica.stop();
  EXPECT_EQ(set("lost", record, std::nullopt), make_error_code(error::store_unavailable));
}

TEST_F(redis_store_fixture, ttl_rules_match_connect_redis) {
  open();
  set("none", record, std::nullopt);
  EXPECT_GE(redis_.ttl("sess:none"), 86399);
  EXPECT_LE(redis_.ttl("sess:none"), 86400);
  set("minute", record, now() + 60s);
  EXPECT_GE(redis_.ttl("sess:minute"), 59);
  EXPECT_LE(redis_.ttl("sess:minute"), 60);
  set("ceil", record, now() + 1500ms);
  EXPECT_EQ(redis_.ttl("sess:ceil"), 2);
  // An expired session deletes the key instead of writing it.
  set("gone", record, now() + 60s);
  EXPECT_FALSE(set("gone", record, now() - 1s));
  EXPECT_EQ(redis_.get("sess:gone"), std::nullopt);
}

TEST_F(redis_store_fixture, touch_issues_expire_without_rewriting) {
  open();
  set("t", record, now() + 10s);
  redis_.command({"SET", "sess:t", "changed elsewhere", "KEEPTTL"});
  EXPECT_FALSE(touch("t", now() + 300s));
  EXPECT_GE(redis_.ttl("sess:t"), 299);
  EXPECT_EQ(redis_.get("sess:t"), "changed elsewhere");
  EXPECT_FALSE(touch("absent", now() + 300s));  // EXPIRE on a missing key: no error, no key
  EXPECT_EQ(redis_.get("sess:absent"), std::nullopt);
}

TEST_F(redis_store_fixture, disable_ttl_and_disable_touch) {
  redis_store_options o;
  o.disable_ttl = true;
  open(o);
  set("k", record, now() + 60s);
  EXPECT_EQ(redis_.ttl("sess:k"), -1);  // no expiry at all
  EXPECT_FALSE(touch("k", now() + 60s));
  EXPECT_EQ(redis_.ttl("sess:k"), -1);
  store_->shutdown();
  redis_store_options t;
  t.disable_touch = true;
  open(t);
  set("j", record, now() + 60s);
  redis_.command({"EXPIRE", "sess:j", "5"});
  EXPECT_FALSE(touch("j", now() + 600s));
  EXPECT_LE(redis_.ttl("sess:j"), 5);
}

TEST_F(redis_store_fixture, prefix_ttl_function_and_serializer) {
  redis_store_options o;
  o.prefix = "app1:";
  o.ttl_function = [](const session_record&) { return 42LL; };
  o.serializer.stringify = [](std::string_view json) { return "v1|" + std::string(json); };
  o.serializer.parse = [](std::string_view stored) -> std::optional<std::string> {
    if (stored.substr(0, 3) != "v1|") return std::nullopt;
    return std::string(stored.substr(3));
  };
  open(o);
  set("p", record, now() + 3600s);
  EXPECT_EQ(redis_.get("app1:p"), "v1|" + record);
  EXPECT_EQ(redis_.ttl("app1:p"), 42);
  EXPECT_EQ(get("p").second, record);
  redis_.command({"SET", "app1:q", "unreadable"});
  auto [ec, v] = get("q");
  EXPECT_FALSE(ec);
  EXPECT_EQ(v, std::nullopt);
}

// No serializer given, the JSON goes to Redis as it is without the serializer's functions (the
// fast path); identity functions given explicitly take the plain path. Both store and read the
// same bytes, through get, set_if, touch and all.
TEST_F(redis_store_fixture, no_serializer_and_identity_serializer_agree) {
  std::vector<std::string> seen;
  for (const bool explicit_identity : {false, true}) {
    redis_store_options o;
    o.prefix = explicit_identity ? "plain:" : "fast:";
    if (explicit_identity) {
      o.serializer.stringify = [](std::string_view json) { return std::string(json); };
      o.serializer.parse = [](std::string_view stored) { return std::optional<std::string>(std::string(stored)); };
    }
    open(o);
    set("a", record, now() + 3600s);
    const std::string key = o.prefix + "a";
    seen.push_back(*redis_.get(key));
    seen.push_back(*get("a").second);
    EXPECT_FALSE(touch("a", now() + 7200s));
    EXPECT_GT(redis_.ttl(key), 3600);
    std::promise<std::vector<std::pair<std::string, std::string>>> all;
    store_->all([&](std::error_code ec, std::vector<std::pair<std::string, std::string>> v) {
      EXPECT_FALSE(ec);
      all.set_value(std::move(v));
    });
    for (const auto& [id, json] : all.get_future().get())
      if (id == "a") seen.push_back(json);
  }
  ASSERT_EQ(seen.size(), 6u);
  for (const auto& each : seen) EXPECT_EQ(each, record);
}

TEST_F(redis_store_fixture, wrong_type_value_is_no_session) {
  open();
  redis_.command({"RPUSH", "sess:list", "a"});
  auto [ec, v] = get("list");
  EXPECT_FALSE(ec);
  EXPECT_EQ(v, std::nullopt);
}

TEST_F(redis_store_fixture, all_ids_length_clear_use_scan) {
  redis_store_options o;
  o.scan_count = 7;  // many SCAN rounds
  open(o);
  for (int i = 0; i < 250; ++i) set("id" + std::to_string(i), record, now() + 600s);
  redis_.command({"SET", "other:key", "not ours"});
  std::promise<std::size_t> len;
  store_->length([&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    len.set_value(n);
  });
  EXPECT_EQ(len.get_future().get(), 250u);
  std::promise<std::vector<std::string>> ids;
  store_->ids([&](std::error_code, std::vector<std::string> v) { ids.set_value(std::move(v)); });
  auto id_list = ids.get_future().get();
  std::sort(id_list.begin(), id_list.end());
  EXPECT_EQ(id_list.size(), 250u);
  EXPECT_EQ(id_list.front(), "id0");
  std::promise<std::vector<std::pair<std::string, std::string>>> all;
  store_->all([&](std::error_code, auto v) { all.set_value(std::move(v)); });
  auto sessions = all.get_future().get();
  ASSERT_EQ(sessions.size(), 250u);
  EXPECT_EQ(sessions.front().second, record);
  EXPECT_FALSE(run([&](completion_handler h) { store_->clear(std::move(h)); }));
  EXPECT_TRUE(redis_.keys("sess:*").empty());
  EXPECT_EQ(redis_.get("other:key"), "not ours");
  // Nothing to clear: no DEL with no keys.
  EXPECT_FALSE(run([&](completion_handler h) { store_->clear(std::move(h)); }));
}

TEST_F(redis_store_fixture, unavailable_while_down_and_recovers_by_itself) {
  redis_store_options o;
  o.command_timeout = 300ms;
  open(o);
  EXPECT_FALSE(set("s", record, std::nullopt));
  redis_.stop();
  const auto t0 = std::chrono::steady_clock::now();
  auto [ec, v] = get("s");
  EXPECT_TRUE(is_unavailable(ec)) << ec.message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_FALSE(store_->ready());
  EXPECT_TRUE(is_unavailable(set("s2", record, std::nullopt)));
  redis_.start();
  wait_ready(10s);
  EXPECT_FALSE(set("s3", record, std::nullopt));
  EXPECT_EQ(get("s3").second, record);
}

TEST_F(redis_store_fixture, slow_redis_times_out_then_recovers) {
  redis_store_options o;
  o.command_timeout = 200ms;
  open(o);
  std::thread sleeper([&] { redis_.command({"DEBUG", "SLEEP", "1"}); });
  std::this_thread::sleep_for(50ms);
  const auto t0 = std::chrono::steady_clock::now();
  auto [ec, v] = get("x");
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(ec == error::store_timeout || ec == error::store_unavailable) << ec.message();
  EXPECT_LT(took, 700ms);
  sleeper.join();
  wait_ready(10s);
  EXPECT_FALSE(set("after", record, std::nullopt));
}

TEST_F(redis_store_fixture, refused_writes_are_unavailable_not_success) {
  open();
  redis_.command({"CONFIG", "SET", "maxmemory", "1"});
  redis_.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  const auto ec = set("big", record, std::nullopt);
  EXPECT_EQ(ec, error::store_unavailable) << ec.message();
  redis_.command({"CONFIG", "SET", "maxmemory", "0"});
  EXPECT_FALSE(set("big", record, std::nullopt));
}

TEST_F(redis_store_fixture, stop_completes_operations_in_flight_exactly_once) {
  open();
  std::atomic<int> completions{0};
  std::promise<void> all_done;
  constexpr int n = 200;
  for (int i = 0; i < n; ++i) {
    store_->set("k" + std::to_string(i), {record, std::nullopt}, [&](std::error_code) {
      if (++completions == n) all_done.set_value();
    });
  }
  store_->shutdown();
  ASSERT_EQ(all_done.get_future().wait_for(5s), std::future_status::ready);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(completions.load(), n);
  auto [ec, v] = get("k0");
  EXPECT_EQ(ec, error::shut_down);
}

TEST_F(redis_store_fixture, pipelines_many_concurrent_commands) {
  open();
  constexpr int n = 2000;
  std::atomic<int> ok{0}, completions{0};
  std::promise<void> done;
  for (int i = 0; i < n; ++i) {
    store_->set("c" + std::to_string(i), {record, std::nullopt}, [&](std::error_code ec) {
      if (!ec) ++ok;
      if (++completions == n) done.set_value();
    });
  }
  ASSERT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(ok.load(), n);
  EXPECT_EQ(redis_.command({"DBSIZE"}).integer, n);
}

}  // namespace
}  // namespace sessionkit::test

namespace sessionkit::test {
namespace {

// The store on a three-master Redis Cluster: commands batched per master, and MOVED and ASK
// followed while a slot migrates under it (done by hand here, step by step, as
// redis-cli --cluster reshard does it).
class redis_cluster_store : public redis_store_fixture {
 protected:
  redis_store& open_cluster() {
    redis_store_options o;
    o.endpoint = parse_redis_url(cluster_.url());
    return open(std::move(o));
  }
  std::string id_of(const std::string& port) const {
    for (const auto& n : cluster_.topology())
      if (std::to_string(n.port) == port) return n.id;
    return {};
  }
  // A migration of `key`'s slot from its master to another, begun (IMPORTING, MIGRATING) as
  // redis-cli --cluster reshard begins it; the keys are the test's to MIGRATE.
  struct migration {
    std::string slot;
    redis_server* source = nullptr;
    redis_server* target = nullptr;
    std::string target_id;
  };
  migration begin_migration(const std::string& key) {
    migration m;
    m.slot = std::to_string(cluster_.nodes()[0]->command({"CLUSTER", "KEYSLOT", key}).integer);
    m.source = cluster_.master_of(key);
    for (auto& n : cluster_.nodes())
      if (n.get() != m.source && !m.target) m.target = n.get();
    const std::string source_id = id_of(std::to_string(m.source->port()));
    m.target_id = id_of(std::to_string(m.target->port()));
    EXPECT_FALSE(m.target->command({"CLUSTER", "SETSLOT", m.slot, "IMPORTING", source_id}).error);
    EXPECT_FALSE(m.source->command({"CLUSTER", "SETSLOT", m.slot, "MIGRATING", m.target_id}).error);
    return m;
  }

  redis_cluster cluster_{3, 0};
};

TEST_F(redis_cluster_store, commands_of_one_turn_share_one_write_per_master) {
  open_cluster();
  for (int i = 0; i < 300; ++i) ASSERT_FALSE(set("b" + std::to_string(i), record, std::nullopt));
  std::set<std::uint16_t> masters;
  for (int i = 0; i < 300; ++i) masters.insert(cluster_.master_of("sess:b" + std::to_string(i))->port());
  ASSERT_EQ(masters.size(), 3u);
  const std::uint64_t before = store_->writes();
  const auto got = gets_in_one_turn("b", 300);
  EXPECT_LE(store_->writes() - before, 6u) << "300 commands of one turn over 3 masters took "
                                           << store_->writes() - before << " writes";
  for (const auto& v : got) EXPECT_EQ(v, record);
}

TEST_F(redis_cluster_store, follows_ask_and_moved_while_a_slot_migrates) {
  open_cluster();
  // Three sessions in one slot (a hash tag in the id puts them there).
  for (const char* id : {"{t}a", "{t}b"}) ASSERT_FALSE(set(id, record, std::nullopt));
  const migration m = begin_migration("sess:{t}a");
  const std::string& slot = m.slot;
  redis_server* source = m.source;
  redis_server* target = m.target;
  const std::string& target_id = m.target_id;
  const redis_value moved = source->command({"MIGRATE", "127.0.0.1", std::to_string(target->port()), "", "0", "5000",
                                             "KEYS", "sess:{t}a"});
  ASSERT_FALSE(moved.error) << moved.text;
  // Mid-migration: a moved key is reached through ASK, one not moved yet where it was, and a
  // new one is written on the target (the source sends it there with ASK).
  EXPECT_EQ(get("{t}a").second, record);
  EXPECT_EQ(get("{t}b").second, record);
  ASSERT_FALSE(set("{t}c", record, std::nullopt));
  // (A GET on the source would itself answer ASK: count the slot's keys on each side.)
  EXPECT_EQ(source->command({"CLUSTER", "COUNTKEYSINSLOT", slot}).integer, 1) << "{t}b";
  EXPECT_EQ(target->command({"CLUSTER", "COUNTKEYSINSLOT", slot}).integer, 2) << "{t}a and {t}c";
  // Done: the slot is the target's everywhere; the store, with its old map, follows MOVED.
  ASSERT_FALSE(source->command({"MIGRATE", "127.0.0.1", std::to_string(target->port()), "", "0", "5000", "KEYS",
                                "sess:{t}b"}).error);
  for (auto& n : cluster_.nodes()) ASSERT_FALSE(n->command({"CLUSTER", "SETSLOT", slot, "NODE", target_id}).error);
  for (const char* id : {"{t}a", "{t}b", "{t}c"}) EXPECT_EQ(get(id).second, record) << id;
  ASSERT_FALSE(destroy("{t}a"));
  EXPECT_FALSE(target->get("sess:{t}a").has_value());
  EXPECT_FALSE(get("{t}a").second.has_value());
}

}  // namespace
}  // namespace sessionkit::test

namespace sessionkit::test {
namespace {

// A lock script names the lock and the session: while a migration has moved one and not the
// other, Redis answers TRYAGAIN, and the store tries again until the migration has moved both
// (within the command timeout).
TEST_F(redis_cluster_store, a_locked_write_waits_out_a_migration_that_split_its_keys) {
  open_cluster();
  ASSERT_FALSE(set("{t}b", record, std::nullopt));
  const migration m = begin_migration("sess:{t}b");
  const std::string& slot = m.slot;
  redis_server* source = m.source;
  redis_server* target = m.target;
  const std::string& target_id = m.target_id;
  // The lock is new, so the source sends it to the target (ASK); the session stays on the source.
  std::promise<lock_result> taken;
  store_->lock_and_get("{t}b", lock_claim{"owner-1", 5000ms}, [&](lock_result r) { taken.set_value(std::move(r)); });
  const lock_result lock = taken.get_future().get();
  ASSERT_FALSE(lock.error) << lock.error.message();
  ASSERT_TRUE(lock.acquired);
  EXPECT_EQ(lock.json, record);
  EXPECT_EQ(target->command({"CLUSTER", "COUNTKEYSINSLOT", slot}).integer, 1) << "the lock";
  // The write needs both keys: TRYAGAIN until the session has moved too.
  const std::string updated = R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"n":2})";
  std::promise<std::error_code> written;
  locked_write w;
  w.what = locked_write::kind::set;
  w.record = {updated, std::nullopt};
  store_->write_and_unlock("{t}b", "owner-1", std::move(w), [&](std::error_code ec) { written.set_value(ec); });
  auto done = written.get_future();
  EXPECT_EQ(done.wait_for(300ms), std::future_status::timeout) << "written while its keys were split";
  ASSERT_FALSE(source->command({"MIGRATE", "127.0.0.1", std::to_string(target->port()), "", "0", "5000", "KEYS",
                                "sess:{t}b"}).error);
  EXPECT_FALSE(done.get()) << "the write after the migration moved the session";
  for (auto& n : cluster_.nodes()) ASSERT_FALSE(n->command({"CLUSTER", "SETSLOT", slot, "NODE", target_id}).error);
  EXPECT_EQ(get("{t}b").second, updated);
  EXPECT_EQ(target->command({"CLUSTER", "COUNTKEYSINSLOT", slot}).integer, 1) << "the lock released";
}

}  // namespace
}  // namespace sessionkit::test

namespace sessionkit::test {
namespace {

// length (and ids, all, clear: the same walk) and a walk in pages, while redis-cli --cluster
// reshard moves every slot of a master to another: both go slot by slot, reading a migrating
// slot's moved keys from its target. None is missed or counted twice.
TEST_F(redis_cluster_store, length_and_page_walks_are_exact_while_a_master_is_resharded) {
  open_cluster();
  constexpr int sessions = 300;
  for (int i = 0; i < sessions; ++i) ASSERT_FALSE(set("r" + std::to_string(i), record, std::nullopt));
  // The slots move from the master last in name order to the first: a SCAN of each master in
  // that order would miss a session moving between the two scans.
  std::vector<cluster_node> masters;
  for (const auto& n : cluster_.topology())
    if (n.master && n.slots > 0) masters.push_back(n);
  std::sort(masters.begin(), masters.end(), [](const cluster_node& a, const cluster_node& b) {
    return "127.0.0.1:" + std::to_string(a.port) < "127.0.0.1:" + std::to_string(b.port);
  });
  const std::string source_id = masters.back().id, target_id = masters.front().id;
  const int source_slots = masters.back().slots;
  std::atomic<bool> moving{true};
  std::vector<std::pair<std::error_code, std::size_t>> counts, walks;
  std::thread counter([&] {
    while (moving) {
      std::promise<std::pair<std::error_code, std::size_t>> p;
      store_->length([&](std::error_code ec, std::size_t n) { p.set_value({ec, n}); });
      counts.push_back(p.get_future().get());
    }
  });
  // A walk in pages too (sessionctl's): slot by slot, the keys of a migrating slot read from
  // the source and then the target.
  std::thread walker([&] {
    while (moving) {
      std::string cursor;
      std::set<std::string> seen;
      std::error_code failed;
      do {
        std::promise<std::pair<std::error_code, session_page>> p;
        store_->page(cursor, 50, [&](std::error_code ec, session_page page) { p.set_value({ec, std::move(page)}); });
        auto [ec, page] = p.get_future().get();
        if (ec) failed = ec;
        for (const auto& s : page.sessions) seen.insert(s.id);
        cursor = page.next;
      } while (!cursor.empty() && !failed);
      walks.push_back({failed, seen.size()});
    }
  });
  cluster_.cli_cluster({"reshard", "--cluster-from", source_id, "--cluster-to", target_id, "--cluster-slots",
                        std::to_string(source_slots), "--cluster-yes"});
  moving = false;
  counter.join();
  walker.join();
  EXPECT_GT(counts.size(), 5u);
  EXPECT_GT(walks.size(), 5u);
  for (const auto& [ec, n] : counts) {
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(n, std::size_t(sessions)) << "a length while slots moved";
  }
  for (const auto& [ec, n] : walks) {
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(n, std::size_t(sessions)) << "a walk in pages while slots moved";
  }
  std::printf("%zu lengths and %zu page walks while %d slots moved, each %d\n", counts.size(), walks.size(),
              source_slots, sessions);
}

}  // namespace
}  // namespace sessionkit::test
