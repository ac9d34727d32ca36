// Issue 16, item 1, end to end: --idle-timeout and --absolute-timeout on the real example
// servers, on memory, Redis and SQLite (two servers sharing Redis or one SQLite file, requests
// alternating between them: the times live in the record, not in a server). The absolute timeout
// ends an active session; the idle timeout ends an idle one and never an active one, reads
// included; an ended session's record is gone from the store and the request gets a new
// session. Every example server takes the flags.

#include "store_servers.hpp"

#include <thread>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

class session_timeouts : public store_servers {
 protected:
  // The counter, on the servers in turn.
  response count_up(cookie_jar& jar) {
    const response r = get(next_port(), "/memory-store-counter", jar.headers());
    jar.store(r);
    return r;
  }

  // Whether the store still holds a live record for `id`, looked up in Redis or the SQLite file
  // themselves (memory: in the unit tests). The record's store expiry is the soonest of the
  // cookie's and the timeouts', so a SQLite row may stay past it until pruned, dead (never
  // returned), like any expired session's; Redis drops it by its TTL or the destroy.
  bool stored(const std::string& id) {
    if (redis_) return redis_->get("sess:" + id).has_value();
    if (db_.empty()) return false;
    for (const auto& row : sqlite_rows("SELECT id FROM sessions WHERE expires > ?1"))
      if (row[0] == id) return true;
    return false;
  }
};

TEST_P(session_timeouts, the_absolute_timeout_ends_an_active_session) {
  start({"--absolute-timeout", "1500"});
  cookie_jar jar;
  ASSERT_EQ(count_up(jar).body, "count is 1");
  const std::string first_id = jar.session_id();
  const auto created = std::chrono::steady_clock::now();
  int expected = 1;
  // Active all along: a request every 150 ms, counting up until the 1.5 s are over.
  while (std::chrono::steady_clock::now() - created < 1300ms) {
    std::this_thread::sleep_for(150ms);
    const response r = count_up(jar);
    ASSERT_EQ(r.body, "count is " + std::to_string(++expected)) << describe(r);
  }
  std::this_thread::sleep_for(400ms);  // past 1.5 s since creation
  const response after = count_up(jar);
  EXPECT_EQ(after.body, "count is 1") << describe(after);  // a new session
  EXPECT_NE(jar.session_id(), first_id);
  EXPECT_FALSE(after.set_cookies.empty());
  EXPECT_FALSE(stored(first_id)) << "the timed-out record is still in the store";
}

TEST_P(session_timeouts, the_idle_timeout_ends_an_idle_session_not_an_active_one) {
  start({"--idle-timeout", "1200"});
  cookie_jar jar;
  ASSERT_EQ(count_up(jar).body, "count is 1");
  const std::string id = jar.session_id();
  // Only reads, 300 ms apart, for 2.4 s (twice the timeout): they keep the session alive.
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(300ms);
    const response r = get(next_port(), "/session-read", jar.headers());
    ASSERT_EQ(r.body, "count is 1") << "read " << i << ": " << describe(r);
  }
  EXPECT_EQ(count_up(jar).body, "count is 2");
  EXPECT_EQ(jar.session_id(), id);
  // Then idle for longer than the timeout: ended, and the next request starts over.
  const cookie_jar old = jar;
  std::this_thread::sleep_for(1500ms);
  const response after = count_up(jar);
  EXPECT_EQ(after.body, "count is 1") << describe(after);
  EXPECT_NE(jar.session_id(), id);
  EXPECT_FALSE(stored(id)) << "the timed-out record is still in the store";
  // The old cookie names nothing any more, on any server.
  for (std::size_t s = 0; s < ports_.size(); ++s)
    EXPECT_NE(get(ports_[s], "/session-read", old.headers()).body, "count is 2");
}

// With locks, the timed-out record is destroyed and its lock released in one step: a request
// that still carries the old cookie is not kept waiting for the lock.
TEST_P(session_timeouts, in_lock_mode_the_ended_session_leaves_no_lock_behind) {
  start({"--absolute-timeout", "800", "--concurrency", "lock", "--lock-timeout", "3000"});
  cookie_jar jar;
  ASSERT_EQ(count_up(jar).body, "count is 1");
  const cookie_jar old = jar;
  std::this_thread::sleep_for(1000ms);
  EXPECT_EQ(count_up(jar).body, "count is 1");  // ended: a new session
  const auto asked = std::chrono::steady_clock::now();
  const response again = get(ports_[0], "/memory-store-counter", old.headers());
  EXPECT_EQ(again.status, 200u) << describe(again);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 2s) << "waited for a lock nobody holds";
}

INSTANTIATE_TEST_SUITE_P(stores, session_timeouts, ::testing::Values("memory", "redis", "sqlite"),
                         [](const auto& info) { return info.param; });

// Every example server takes the flags and ends the session the same way.
class session_timeouts_frameworks : public ::testing::TestWithParam<example_binary> {};

TEST_P(session_timeouts_frameworks, an_idle_session_ends) {
  child_process server(GetParam().path, {"--port", "0", "--idle-timeout", "600", "--absolute-timeout", "60000"});
  const auto port = server.wait_for_listening().port;
  cookie_jar jar;
  response r = get(port, "/memory-store-counter");
  jar.store(r);
  r = get(port, "/memory-store-counter", jar.headers());
  EXPECT_EQ(r.body, "count is 2") << describe(r);
  jar.store(r);
  std::this_thread::sleep_for(800ms);
  r = get(port, "/memory-store-counter", jar.headers());
  EXPECT_EQ(r.body, "count is 1") << describe(r) << server.stderr_text();
}

INSTANTIATE_TEST_SUITE_P(frameworks, session_timeouts_frameworks, ::testing::ValuesIn(example_binaries()),
                         [](const auto& info) { return info.param.framework; });

}  // namespace
}  // namespace sessionkit::test
