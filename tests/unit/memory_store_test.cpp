#include <sessionkit/stores/memory_store.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

session_record record(std::string json, std::optional<timestamp> expires) { return {std::move(json), expires}; }

// Runs the io_context until `done` (the store completes through it).
template <class F>
void run_until(boost::asio::io_context& io, F&& done) {
  io.restart();
  while (!done()) io.run_one_for(1s);
}

std::optional<std::string> get(memory_store& s, boost::asio::io_context& io, std::string id) {
  bool done = false;
  std::optional<std::string> out;
  s.get(id, [&](std::error_code ec, std::optional<std::string> json) {
    EXPECT_FALSE(ec);
    out = std::move(json);
    done = true;
  });
  EXPECT_FALSE(done) << "completed inside the initiating call";
  run_until(io, [&] { return done; });
  return out;
}

void call(boost::asio::io_context& io, const std::function<void(completion_handler)>& op) {
  bool done = false;
  op([&](std::error_code ec) {
    EXPECT_FALSE(ec);
    done = true;
  });
  EXPECT_FALSE(done);
  run_until(io, [&] { return done; });
}

TEST(memory_store, set_get_destroy) {
  boost::asio::io_context io;
  memory_store s(io.get_executor());
  call(io, [&](auto h) { s.set("a", record("{\"cookie\":{}}", now() + 60s), std::move(h)); });
  EXPECT_EQ(get(s, io, "a"), "{\"cookie\":{}}");
  EXPECT_EQ(get(s, io, "missing"), std::nullopt);
  call(io, [&](auto h) { s.destroy("a", std::move(h)); });
  EXPECT_EQ(get(s, io, "a"), std::nullopt);
  call(io, [&](auto h) { s.destroy("never-there", std::move(h)); });
}

TEST(memory_store, never_returns_an_expired_session) {
  boost::asio::io_context io;
  memory_store s(io.get_executor());
  call(io, [&](auto h) { s.set("soon", record("{}", now() + 30ms), std::move(h)); });
  call(io, [&](auto h) { s.set("past", record("{}", now() - 1ms), std::move(h)); });
  EXPECT_EQ(get(s, io, "past"), std::nullopt);
  EXPECT_TRUE(get(s, io, "soon"));
  std::this_thread::sleep_for(40ms);
  EXPECT_EQ(get(s, io, "soon"), std::nullopt);
  EXPECT_EQ(s.stored_count(), 0u);
}

TEST(memory_store, sessions_without_expiry_live_for_the_default_ttl) {
  boost::asio::io_context io;
  memory_store_options o;
  o.ttl_without_expiry = 30ms;
  memory_store s(io.get_executor(), o);
  call(io, [&](auto h) { s.set("browser", record("{}", std::nullopt), std::move(h)); });
  EXPECT_TRUE(get(s, io, "browser"));
  std::this_thread::sleep_for(40ms);
  EXPECT_EQ(get(s, io, "browser"), std::nullopt);
}

TEST(memory_store, prunes_expired_sessions_in_the_background) {
  boost::asio::io_context io;
  memory_store_options o;
  o.prune_interval = 20ms;
  memory_store s(io.get_executor(), o);
  // The io_context does not run while filling (so no pruning tick yet); completions queue up.
  int completed = 0;
  for (int i = 0; i < 1000; ++i)
    s.set("s" + std::to_string(i), record("{}", now() + (i % 2 ? 10ms : 1h)), [&](std::error_code) { ++completed; });
  EXPECT_EQ(s.stored_count(), 1000u);
  // Only the timer runs (one shard per tick): no get touches the expired ones.
  std::this_thread::sleep_for(15ms);
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (s.stored_count() > 500u && std::chrono::steady_clock::now() < deadline) io.run_for(10ms);
  EXPECT_EQ(s.stored_count(), 500u);
  EXPECT_EQ(completed, 1000);
}

TEST(memory_store, touch_refreshes_cookie_and_expiry_but_keeps_data) {
  boost::asio::io_context io;
  memory_store s(io.get_executor());
  call(io, [&](auto h) { s.set("t", record(R"({"cookie":{"expires":"old"},"count":5})", now() + 30ms), std::move(h)); });
  call(io, [&](auto h) { s.touch("t", record(R"({"cookie":{"expires":"new"},"count":1})", now() + 1h), std::move(h)); });
  std::this_thread::sleep_for(40ms);
  EXPECT_EQ(get(s, io, "t"), R"({"cookie":{"expires":"new"},"count":5})");
  call(io, [&](auto h) { s.touch("absent", record("{}", now() + 1h), std::move(h)); });
  EXPECT_EQ(get(s, io, "absent"), std::nullopt);
}

// With a timeout the store expiry is sooner than the cookie's own (`session_record::cookie_expires`
// says what the cookie object holds): the record comes back byte for byte, touched records keep
// their data, and the store forgets the session at the sooner time.
TEST(memory_store, a_store_expiry_sooner_than_the_cookies_keeps_the_record_exact) {
  boost::asio::io_context io;
  memory_store s(io.get_executor());
  const timestamp cookie = timestamp(std::chrono::milliseconds(1893456000000));  // 2030-01-01
  const std::string cookie_json = R"({"originalMaxAge":86400000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"})";
  const std::string json = R"({"cookie":)" + cookie_json + R"(,"count":1,"_sessionkit_seen":1})";
  for (const std::string& id : {std::string("sooner-a"), std::string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")}) {
    session_record r(json, now() + 1h);
    r.cookie_expires = cookie;
    call(io, [&](auto h) { s.set(id, std::move(r), std::move(h)); });
    EXPECT_EQ(get(s, io, id), json);
    session_record touched(R"({"cookie":)" + cookie_json + R"(,"count":99})", now() + 60ms);
    touched.cookie_expires = cookie;
    call(io, [&](auto h) { s.touch(id, std::move(touched), std::move(h)); });
    EXPECT_EQ(get(s, io, id), json) << "a touch keeps the data";
  }
  // A browser-session cookie (expires null) with a store expiry from the timeout.
  const std::string null_json = R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"n":2})";
  session_record browser(null_json, now() + 60ms);
  browser.cookie_expires.reset();
  call(io, [&](auto h) { s.set("browser", std::move(browser), std::move(h)); });
  EXPECT_EQ(get(s, io, "browser"), null_json);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(get(s, io, "browser"), std::nullopt);
  EXPECT_EQ(get(s, io, "sooner-a"), std::nullopt) << "forgotten at the store expiry, not the cookie's";
}

TEST(memory_store, keeps_records_byte_for_byte_whatever_their_shape) {
  boost::asio::io_context io;
  memory_store s(io.get_executor());
  const timestamp expires = now() + 1h;
  const std::string iso = format_iso_date(expires);
  const std::string default_id = "nyeVZrM6Gu1XdlRNeL88sdNhEwW80Wni";  // stored as 24 bytes
  const std::vector<std::pair<std::string, session_record>> cases{
      {default_id, record(R"({"cookie":{"originalMaxAge":3600000,"expires":")" + iso +
                              R"(","httpOnly":true,"path":"/"},"count":1})", expires)},
      {"custom id with spaces", record(R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"user":{"name":"bob","tags":["a","b"]}})", std::nullopt)},
      {"-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_", record(R"({"cookie":{"expires":"2000-01-01T00:00:00.000Z"},"n":1})", expires)},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef", record(R"({"count":1,"cookie":{}})", expires)},
      {"short", record("not json at all", expires)},
  };
  for (const auto& [id, rec] : cases) {
    SCOPED_TRACE(id);
    call(io, [&](auto h) { s.set(id, rec, std::move(h)); });
    EXPECT_EQ(get(s, io, id), rec.json);
  }
  std::vector<std::string> ids;
  bool done = false;
  s.ids([&](std::error_code, std::vector<std::string> v) { ids = std::move(v); done = true; });
  run_until(io, [&] { return done; });
  EXPECT_NE(std::find(ids.begin(), ids.end(), default_id), ids.end());
  // Touch rewrites the cookie of a compacted record and keeps its data.
  const timestamp later = expires + 1h;
  call(io, [&](auto h) {
    s.touch(default_id, record(R"({"cookie":{"originalMaxAge":7200000,"expires":")" + format_iso_date(later) +
                                   R"(","httpOnly":true,"path":"/"},"count":99})", later), std::move(h));
  });
  EXPECT_EQ(get(s, io, default_id), R"({"cookie":{"originalMaxAge":7200000,"expires":")" + format_iso_date(later) +
                                        R"(","httpOnly":true,"path":"/"},"count":1})");
}

// Records alternating between cookie shapes, expiries and nearly-equal texts: the store
// compares a record with the cookie template it used last, and must never mistake one for
// another.
TEST(memory_store, alternating_cookie_shapes_keep_every_record_exact) {
  boost::asio::io_context io;
  memory_store s(io.get_executor());
  const timestamp base = now() + 1h;
  auto with_expiry = [](timestamp t, std::string_view path, std::string_view data) {
    return R"({"cookie":{"originalMaxAge":3600000,"expires":")" + format_iso_date(t) +
           R"(","httpOnly":true,"path":")" + std::string(path) + "\"}" + std::string(data) + "}";
  };
  const std::string browser_session =
      R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"n":2})";
  struct item {
    std::string id, json;
    std::optional<timestamp> expires;
  };
  std::vector<item> items;
  for (int i = 0; i < 12; ++i) {
    const std::string id = "session-" + std::to_string(i);
    const timestamp t = base + std::chrono::milliseconds(i * 1001);
    switch (i % 4) {
      case 0: items.push_back({id, with_expiry(t, "/", R"(,"n":1)"), t}); break;
      case 1: items.push_back({id, with_expiry(t, "/app", ""), t}); break;
      case 2: items.push_back({id, browser_session, std::nullopt}); break;
      // The record's cookie claims another expiry than the record's: kept verbatim.
      case 3: items.push_back({id, with_expiry(t, "/", R"(,"n":3)"), t + 1s}); break;
    }
  }
  for (const auto& it : items) call(io, [&](auto h) { s.set(it.id, record(it.json, it.expires), std::move(h)); });
  for (const auto& it : items) EXPECT_EQ(get(s, io, it.id), it.json) << it.id;
  // Touches with the same shape, with another shape, and with no cookie object at all.
  const timestamp later = base + 2h;
  call(io, [&](auto h) { s.touch("session-0", record(with_expiry(later, "/", ""), later), std::move(h)); });
  EXPECT_EQ(get(s, io, "session-0"), with_expiry(later, "/", R"(,"n":1)"));
  call(io, [&](auto h) { s.touch("session-1", record(with_expiry(later, "/other", ""), later), std::move(h)); });
  EXPECT_EQ(get(s, io, "session-1"), with_expiry(later, "/other", ""));
  call(io, [&](auto h) { s.touch("session-2", record("{}", later), std::move(h)); });
  EXPECT_EQ(get(s, io, "session-2"), browser_session);
}

TEST(memory_store, all_ids_length_clear) {
  boost::asio::io_context io;
  memory_store s(io.get_executor());
  call(io, [&](auto h) { s.set("a", record("1", now() + 1h), std::move(h)); });
  call(io, [&](auto h) { s.set("b", record("2", now() + 1h), std::move(h)); });
  call(io, [&](auto h) { s.set("c", record("3", now() - 1s), std::move(h)); });
  std::size_t n = 0;
  bool done = false;
  s.length([&](std::error_code, std::size_t len) { n = len; done = true; });
  run_until(io, [&] { return done; });
  EXPECT_EQ(n, 2u);
  std::vector<std::string> ids;
  done = false;
  s.ids([&](std::error_code, std::vector<std::string> v) { ids = std::move(v); done = true; });
  run_until(io, [&] { return done; });
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b"}));
  done = false;
  std::size_t all_count = 0;
  s.all([&](std::error_code, auto v) { all_count = v.size(); done = true; });
  run_until(io, [&] { return done; });
  EXPECT_EQ(all_count, 2u);
  call(io, [&](auto h) { s.clear(std::move(h)); });
  EXPECT_EQ(s.stored_count(), 0u);
}

TEST(memory_store, concurrent_use_from_several_threads) {
  boost::asio::thread_pool pool(4);
  memory_store s(pool.get_executor());
  constexpr int threads = 4, per_thread = 2000;
  std::atomic<int> completions{0}, found{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i % 100);
        s.set(id, record("{\"n\":" + std::to_string(i) + "}", now() + 1h), [&](std::error_code) { ++completions; });
        s.get(id, [&](std::error_code, std::optional<std::string> json) {
          if (json) ++found;
          ++completions;
        });
        if (i % 7 == 0) s.destroy(id, [&](std::error_code) { ++completions; });
      }
    });
  }
  for (auto& w : workers) w.join();
  const int expected = threads * (2 * per_thread + (per_thread + 6) / 7);
  for (int i = 0; i < 500 && completions < expected; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(completions.load(), expected);
  EXPECT_GT(found.load(), 0);
  EXPECT_LE(s.stored_count(), std::size_t(threads * 100));
  s.shutdown();
  pool.join();
}

}  // namespace
}  // namespace sessionkit::test

namespace sessionkit::test {
namespace {

// Issue 13, item 2: a bounded MemoryStore. The synchronous side (`immediate()`) answers in the
// call, which keeps these tests short.
const std::string empty_record =
    R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}})";
std::string data_record(int n) {
  return R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":)" +
         std::to_string(n) + "}";
}
std::string id_of(int n) {
  std::string id = std::to_string(n);
  return std::string(32 - id.size(), 'A') + id;  // a default-shaped id (32 base64url characters)
}

TEST(memory_store_limits, a_flood_of_sessions_without_data_never_evicts_one_with_data) {
  boost::asio::io_context io;
  memory_store_options o;
  o.max_sessions = 100;
  memory_store s(io.get_executor(), o);
  immediate_store& now_form = *s.immediate();
  for (int i = 0; i < 10; ++i) ASSERT_FALSE(now_form.set_now(id_of(i), record(data_record(i), std::nullopt)));
  for (int i = 1000; i < 6000; ++i) ASSERT_FALSE(now_form.set_now(id_of(i), record(empty_record, std::nullopt))) << i;
  EXPECT_LE(s.stored_count(), 100u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(now_form.get_now(id_of(i)).json, data_record(i)) << i;
  // ... and those users keep working.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(now_form.set_now(id_of(i), record(data_record(i + 1), std::nullopt)));
  EXPECT_EQ(now_form.get_now(id_of(3)).json, data_record(4));
}

TEST(memory_store_limits, when_only_sessions_with_data_are_left_new_ones_are_refused) {
  boost::asio::io_context io;
  memory_store_options o;
  o.max_sessions = 20;
  memory_store s(io.get_executor(), o);
  immediate_store& now_form = *s.immediate();
  for (int i = 0; i < 20; ++i) ASSERT_FALSE(now_form.set_now(id_of(i), record(data_record(i), std::nullopt)));
  EXPECT_EQ(now_form.set_now(id_of(100), record(data_record(1), std::nullopt)), error::store_full);
  EXPECT_EQ(now_form.set_now(id_of(101), record(empty_record, std::nullopt)), error::store_full);
  EXPECT_TRUE(is_unavailable(make_error_code(error::store_full)));  // a 503 with Retry-After
  EXPECT_EQ(now_form.get_now(id_of(100)).json, std::nullopt);
  // Existing sessions keep working; a destroyed one makes room again.
  EXPECT_FALSE(now_form.set_now(id_of(5), record(data_record(50), std::nullopt)));
  EXPECT_FALSE(now_form.destroy_now(id_of(6)));
  EXPECT_FALSE(now_form.set_now(id_of(100), record(data_record(1), std::nullopt)));
  // Expired sessions go before anything is refused.
  EXPECT_FALSE(now_form.set_now(id_of(7), record(data_record(7), now() + 50ms)));
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(now_form.set_now(id_of(102), record(data_record(1), std::nullopt)));
}

TEST(memory_store_limits, bytes_are_bounded_too) {
  boost::asio::io_context io;
  memory_store_options o;
  o.max_bytes = 64 * 1024;
  memory_store s(io.get_executor(), o);
  immediate_store& now_form = *s.immediate();
  const std::string big = R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"blob":")" +
                          std::string(10'000, 'x') + "\"}";
  int stored = 0;
  for (int i = 0; i < 20; ++i) stored += !now_form.set_now(id_of(i), record(big, std::nullopt));
  EXPECT_EQ(stored, 6);  // 6 x ~10 KB fit in 64 KiB
  EXPECT_LE(s.stored_bytes(), o.max_bytes);
  // An existing session may not grow past the limit, but may shrink.
  EXPECT_EQ(now_form.set_now(id_of(0), record(big + std::string(10'000, ' '), std::nullopt)), error::store_full);
  EXPECT_FALSE(now_form.set_now(id_of(0), record(data_record(1), std::nullopt)));
  EXPECT_FALSE(now_form.set_now(id_of(99), record(big, std::nullopt)));
  // The count follows every change.
  EXPECT_FALSE(now_form.destroy_now(id_of(99)));
  std::size_t expected = data_record(1).size() + 5 * big.size();
  EXPECT_EQ(s.stored_bytes(), expected);
}

}  // namespace
}  // namespace sessionkit::test
