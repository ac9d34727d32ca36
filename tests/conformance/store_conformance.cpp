// The tests of the store-conformance suite (see store_conformance.hpp).

#include "store_conformance.hpp"

#include <sessionkit/time.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <set>
#include <thread>

namespace sessionkit::conformance {
namespace {

using namespace std::chrono_literals;

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(store_conformance);

std::string record_json(std::string_view data_members) {
  return R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"})" +
         std::string(data_members.empty() ? "" : ",") + std::string(data_members) + "}";
}

// The store under test, with its completions on an io_context run by two threads, and
// blocking helpers that also check each completion comes once and not inside the call.
class harness {
 public:
  explicit harness(const store_factory& f) : factory_(f) {
    for (auto& t : threads_) t = std::thread([this] { io_.run(); });
    try {
      store_ = factory_.make(io_.get_executor());
    } catch (...) {
      // Reported as the test's failure (a store that could not be made: its server did not
      // start, say), not as std::terminate for threads left running.
      work_.reset();
      io_.stop();
      for (auto& t : threads_) t.join();
      throw;
    }
  }
  ~harness() {
    if (store_) store_->shutdown();
    store_.reset();
    work_.reset();
    for (auto& t : threads_) t.join();
  }

  store& s() { return *store_; }

  template <class R, class Start>
  R call(Start start) {
    auto result = std::make_shared<std::promise<R>>();
    auto calls = std::make_shared<std::atomic<int>>(0);
    auto inline_completion = std::make_shared<std::atomic<bool>>(false);
    // Only a completion on this thread while `start` runs is inside the initiating call.
    thread_local bool initiating = false;
    initiating = true;
    start([result, calls, inline_completion](auto... args) {
      if (initiating) *inline_completion = true;
      if (++*calls == 1) result->set_value(R{args...});
    });
    initiating = false;
    auto f = result->get_future();
    if (f.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "operation did not complete";
      return R{};
    }
    R r = f.get();
    EXPECT_FALSE(*inline_completion) << "completed inside the initiating call";
    std::this_thread::sleep_for(1ms);
    EXPECT_EQ(calls->load(), 1) << "completed more than once";
    return r;
  }

  std::pair<std::error_code, std::optional<std::string>> get(const std::string& id) {
    return call<std::pair<std::error_code, std::optional<std::string>>>(
        [&](auto done) { s().get(id, [done](std::error_code ec, std::optional<std::string> v) { done(ec, v); }); });
  }
  std::error_code set(const std::string& id, std::string json, std::optional<timestamp> expires) {
    return call<std::error_code>([&](auto done) {
      s().set(id, {std::move(json), expires}, [done](std::error_code ec) { done(ec); });
    });
  }
  std::error_code set_if(const std::string& id, std::string json, std::optional<timestamp> expires,
                         write_condition condition) {
    return call<std::error_code>([&](auto done) {
      s().set_if(id, {std::move(json), expires}, condition, [done](std::error_code ec) { done(ec); });
    });
  }
  std::error_code destroy(const std::string& id) {
    return call<std::error_code>([&](auto done) { s().destroy(id, [done](std::error_code ec) { done(ec); }); });
  }
  std::error_code touch(const std::string& id, std::string json, std::optional<timestamp> expires) {
    return call<std::error_code>([&](auto done) {
      s().touch(id, {std::move(json), expires}, [done](std::error_code ec) { done(ec); });
    });
  }

  lock_result lock(const std::string& id, const std::string& owner, std::chrono::milliseconds lease = 10s) {
    return call<lock_result>([&](auto done) {
      s().lock_and_get(id, {owner, lease}, [done](lock_result r) { done(std::move(r)); });
    });
  }
  std::error_code unlock(const std::string& id, const std::string& owner, locked_write::kind what = locked_write::kind::none,
                         std::string json = {}, std::optional<timestamp> expires = {},
                         write_condition condition = write_condition::always) {
    return call<std::error_code>([&](auto done) {
      locked_write w;
      w.what = what;
      w.record = {std::move(json), expires};
      w.condition = condition;
      s().write_and_unlock(id, owner, std::move(w), [done](std::error_code ec) { done(ec); });
    });
  }
  // A write of a logged-in session: the record's data names the user, as `session::set_user` does.
  std::error_code set_as(const std::string& id, const std::string& user, std::optional<timestamp> expires,
                         write_condition condition = write_condition::always) {
    return call<std::error_code>([&](auto done) {
      s().set_if(id, {user_record(user), expires, user}, condition, [done](std::error_code ec) { done(ec); });
    });
  }
  static std::string user_record(const std::string& user) { return record_json(R"("user":")" + user + "\""); }
  // The ids `sessions_of(user)` lists, sorted (each checked to carry the user's record).
  std::vector<std::string> ids_of(const std::string& user) {
    auto [ec, listed] = call<std::pair<std::error_code, std::vector<listed_session>>>([&](auto done) {
      s().sessions_of(user, [done](std::error_code ec, std::vector<listed_session> v) { done(ec, v); });
    });
    EXPECT_FALSE(ec) << ec.message();
    std::vector<std::string> ids;
    for (const auto& l : listed) {
      EXPECT_NE(l.json.find(R"("user":")" + user + "\""), std::string::npos) << l.json;
      EXPECT_TRUE(l.expires.has_value());
      ids.push_back(l.id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  compare_and_set_result cas(const std::string& id, const std::string& expected, std::string json,
                             std::optional<timestamp> expires) {
    return call<compare_and_set_result>([&](auto done) {
      s().compare_and_set(id, expected, {std::move(json), expires},
                          [done](compare_and_set_result r) { done(std::move(r)); });
    });
  }

  boost::asio::io_context io_;

 private:
  store_factory factory_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ = boost::asio::make_work_guard(io_);
  std::thread threads_[2];
  std::shared_ptr<store> store_;
};

TEST_P(store_conformance, missing_id_is_no_session_not_an_error) {
  harness h(GetParam());
  auto [ec, v] = h.get("no-such-id");
  EXPECT_FALSE(ec);
  EXPECT_EQ(v, std::nullopt);
}

TEST_P(store_conformance, set_then_get_returns_the_record_byte_for_byte) {
  harness h(GetParam());
  const std::string json = record_json(R"("count":1,"f":1.5,"s":"x\"y\\z","n":null,"a":[1,{"b":[]}])");
  EXPECT_FALSE(h.set("id1", json, now() + 1h));
  EXPECT_EQ(h.get("id1").second, json);
  const std::string replaced = record_json(R"("count":2)");
  EXPECT_FALSE(h.set("id1", replaced, now() + 1h));
  EXPECT_EQ(h.get("id1").second, replaced);
}

TEST_P(store_conformance, destroy_removes_and_tolerates_missing_ids) {
  harness h(GetParam());
  EXPECT_FALSE(h.set("gone", record_json(""), now() + 1h));
  EXPECT_FALSE(h.destroy("gone"));
  EXPECT_EQ(h.get("gone").second, std::nullopt);
  EXPECT_FALSE(h.destroy("gone"));
  EXPECT_FALSE(h.destroy("never-existed"));
}

TEST_P(store_conformance, sessions_without_expiry_are_kept) {
  harness h(GetParam());
  EXPECT_FALSE(h.set("browser", record_json(R"("x":1)"), std::nullopt));
  EXPECT_EQ(h.get("browser").second, record_json(R"("x":1)"));
}

TEST_P(store_conformance, an_expired_session_is_never_returned) {
  harness h(GetParam());
  const auto resolution = GetParam().expiry_resolution;
  EXPECT_FALSE(h.set("short", record_json(""), now() + 50ms));
  EXPECT_FALSE(h.set("past", record_json(""), now() - 1s));
  EXPECT_EQ(h.get("past").second, std::nullopt);
  std::this_thread::sleep_for(std::max<std::chrono::milliseconds>(100ms, resolution + 100ms));
  EXPECT_EQ(h.get("short").second, std::nullopt);
}

TEST_P(store_conformance, touch_extends_life) {
  harness h(GetParam());
  if (!h.s().has_touch()) GTEST_SKIP() << "the store has no touch";
  const auto resolution = GetParam().expiry_resolution;
  const auto life = std::max<std::chrono::milliseconds>(200ms, resolution);
  const std::string json = record_json(R"("kept":true)");
  EXPECT_FALSE(h.set("t", json, now() + life));
  EXPECT_FALSE(h.touch("t", json, now() + 1h));
  std::this_thread::sleep_for(life + resolution + 100ms);
  EXPECT_EQ(h.get("t").second, json);
  // Touching a missing session does not create it.
  EXPECT_FALSE(h.touch("absent", json, now() + 1h));
  EXPECT_EQ(h.get("absent").second, std::nullopt);
}

// A store may answer calls at once (`store::immediate()`). What it answers there must be what
// the asynchronous forms would answer, and both must see each other's writes.
TEST_P(store_conformance, answers_at_once_agree_with_the_asynchronous_forms) {
  harness h(GetParam());
  immediate_store* now_form = h.s().immediate();
  if (!now_form) GTEST_SKIP() << "the store answers nothing at once";
  const std::string json = record_json(R"("n":1)");
  EXPECT_FALSE(now_form->set_now("at-once", {json, now() + 1h}));
  EXPECT_EQ(now_form->set_now("at-once", {json, now() + 1h}, write_condition::if_absent), error::session_gone);
  EXPECT_EQ(now_form->set_now("at-once-absent", {json, now() + 1h}, write_condition::if_present),
            error::session_gone);
  EXPECT_EQ(h.get("at-once").second, json);  // written at once, read asynchronously
  {
    const get_result got = now_form->get_now("at-once");
    EXPECT_FALSE(got.error);
    EXPECT_EQ(got.json, json);
  }
  {
    const get_result missing = now_form->get_now("at-once-absent");
    EXPECT_FALSE(missing.error);
    EXPECT_EQ(missing.json, std::nullopt);
  }
  if (h.s().has_touch()) {
    EXPECT_FALSE(now_form->touch_now("at-once", {json, now() + 2h}));
    EXPECT_EQ(h.get("at-once").second, json);
    EXPECT_FALSE(now_form->touch_now("at-once-absent", {json, now() + 2h}));
    EXPECT_EQ(h.get("at-once-absent").second, std::nullopt);  // touch never creates
  }
  // An expired record written at once is not kept.
  EXPECT_FALSE(now_form->set_now("at-once-expired", {json, now() - 1s}));
  EXPECT_EQ(h.get("at-once-expired").second, std::nullopt);
  EXPECT_FALSE(now_form->destroy_now("at-once"));
  EXPECT_EQ(h.get("at-once").second, std::nullopt);
  EXPECT_EQ(now_form->get_now("at-once").json, std::nullopt);
}

// Destroy is final: a store that offers conditional writes replaces only a live record when
// asked to (a loaded session's save) and inserts only where none is (a new session's).
TEST_P(store_conformance, the_user_index_at_once_agrees_with_the_asynchronous_form) {
  harness h(GetParam());
  immediate_store* now_form = h.s().immediate();
  if (!now_form || !h.s().has_user_index()) GTEST_SKIP() << "no answers at once, or no user index";
  ASSERT_FALSE(h.set_as("i1", "ida", now() + 1h));
  ASSERT_FALSE(now_form->set_now("i2", {harness::user_record("ida"), now() + 1h, "ida"}));
  std::vector<listed_session> listed;
  ASSERT_FALSE(now_form->sessions_of_now("ida", listed));
  std::vector<std::string> ids;
  for (const auto& l : listed) ids.push_back(l.id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, h.ids_of("ida"));
  EXPECT_EQ(ids, (std::vector<std::string>{"i1", "i2"}));
}

TEST_P(store_conformance, conditional_sets_never_bring_a_destroyed_session_back) {
  harness h(GetParam());
  if (!h.s().has_conditional_set()) GTEST_SKIP() << "the store offers no conditional writes";
  const std::string v1 = record_json(R"("v":1)"), v2 = record_json(R"("v":2)");
  // if_absent: inserts a new session, never over a live one.
  EXPECT_FALSE(h.set_if("c", v1, now() + 1h, write_condition::if_absent));
  EXPECT_EQ(h.get("c").second, v1);
  EXPECT_EQ(h.set_if("c", v2, now() + 1h, write_condition::if_absent), error::session_gone);
  EXPECT_EQ(h.get("c").second, v1);
  // if_present: replaces a live session only.
  EXPECT_FALSE(h.set_if("c", v2, now() + 1h, write_condition::if_present));
  EXPECT_EQ(h.get("c").second, v2);
  EXPECT_FALSE(h.destroy("c"));
  EXPECT_EQ(h.set_if("c", v1, now() + 1h, write_condition::if_present), error::session_gone);
  EXPECT_EQ(h.get("c").second, std::nullopt);  // still destroyed
  // A touch never creates either.
  if (h.s().has_touch()) {
    EXPECT_FALSE(h.touch("c", v1, now() + 1h));
    EXPECT_EQ(h.get("c").second, std::nullopt);
  }
  // An expired record is no live session: if_absent may take its place, if_present may not.
  EXPECT_FALSE(h.set("e", v1, now() + GetParam().expiry_resolution));
  std::this_thread::sleep_for(GetParam().expiry_resolution + 1200ms);
  EXPECT_EQ(h.set_if("e", v2, now() + 1h, write_condition::if_present), error::session_gone);
  EXPECT_FALSE(h.set_if("e", v2, now() + 1h, write_condition::if_absent));
  EXPECT_EQ(h.get("e").second, v2);
  // always: express-session's unconditional set.
  EXPECT_FALSE(h.set_if("a", v1, now() + 1h, write_condition::always));
  EXPECT_FALSE(h.set_if("a", v2, now() + 1h, write_condition::always));
  EXPECT_EQ(h.get("a").second, v2);
}

// Many writers racing a destroy: once the destroy has completed, no if_present write lands.
TEST_P(store_conformance, a_destroy_wins_over_concurrent_conditional_saves) {
  harness h(GetParam());
  if (!h.s().has_conditional_set()) GTEST_SKIP() << "the store offers no conditional writes";
  for (int trial = 0; trial < 20; ++trial) {
    const std::string id = "race" + std::to_string(trial);
    ASSERT_FALSE(h.set(id, record_json(R"("v":0)"), now() + 1h));
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0; !stop; ++i)
          h.set_if(id, record_json(R"("v":)" + std::to_string(w * 1000 + i)), now() + 1h, write_condition::if_present);
      });
    }
    std::this_thread::sleep_for(5ms);
    ASSERT_FALSE(h.destroy(id));
    std::this_thread::sleep_for(5ms);
    stop = true;
    for (auto& t : writers) t.join();
    EXPECT_EQ(h.get(id).second, std::nullopt) << "trial " << trial << ": the destroyed session came back";
  }
}

// --- session locks (concurrency lock) -----------------------------------------------------------

TEST_P(store_conformance, a_lock_excludes_other_owners_until_released_with_the_write) {
  harness h(GetParam());
  if (!h.s().has_locks()) GTEST_SKIP() << "the store has no session locks";
  const std::string v1 = record_json(R"("v":1)"), v2 = record_json(R"("v":2)"), v3 = record_json(R"("v":3)");
  ASSERT_FALSE(h.set("l", v1, now() + 1h));
  lock_result a = h.lock("l", "owner-a");
  ASSERT_FALSE(a.error);
  EXPECT_TRUE(a.acquired);
  EXPECT_EQ(a.json, v1);  // the record comes with the lock
  lock_result b = h.lock("l", "owner-b");
  ASSERT_FALSE(b.error);
  EXPECT_FALSE(b.acquired);
  EXPECT_FALSE(b.json);
  EXPECT_GT(b.held_for.count(), 0);
  EXPECT_LE(b.held_for, 10s);
  // Not the holder: its write is refused, nothing changes, the lock stays.
  EXPECT_EQ(h.unlock("l", "owner-b", locked_write::kind::set, v3, now() + 1h, write_condition::if_present),
            error::lock_lost);
  EXPECT_EQ(h.get("l").second, v1);
  EXPECT_FALSE(h.lock("l", "owner-c").acquired);
  // The holder writes and releases in one step.
  EXPECT_FALSE(h.unlock("l", "owner-a", locked_write::kind::set, v2, now() + 1h, write_condition::if_present));
  EXPECT_EQ(h.get("l").second, v2);
  lock_result c = h.lock("l", "owner-c");
  EXPECT_TRUE(c.acquired);
  EXPECT_EQ(c.json, v2);
  // Released without a write (a request that saved nothing).
  EXPECT_FALSE(h.unlock("l", "owner-c"));
  EXPECT_TRUE(h.lock("l", "owner-d").acquired);
  EXPECT_FALSE(h.unlock("l", "owner-d", locked_write::kind::destroy));
  EXPECT_EQ(h.get("l").second, std::nullopt);
}

TEST_P(store_conformance, a_lock_of_a_missing_session_and_conditions_under_the_lock) {
  harness h(GetParam());
  if (!h.s().has_locks()) GTEST_SKIP() << "the store has no session locks";
  const std::string v1 = record_json(R"("v":1)");
  lock_result a = h.lock("m", "owner-a");
  EXPECT_TRUE(a.acquired);
  EXPECT_EQ(a.json, std::nullopt);
  // A loaded session that is gone: the conditional write does nothing, and the lock is released.
  EXPECT_EQ(h.unlock("m", "owner-a", locked_write::kind::set, v1, now() + 1h, write_condition::if_present),
            error::session_gone);
  EXPECT_EQ(h.get("m").second, std::nullopt);
  EXPECT_TRUE(h.lock("m", "owner-b").acquired);
  EXPECT_FALSE(h.unlock("m", "owner-b", locked_write::kind::set, v1, now() + 1h, write_condition::if_absent));
  EXPECT_EQ(h.get("m").second, v1);
  // A touch under the lock keeps the data.
  EXPECT_TRUE(h.lock("m", "owner-c").acquired);
  EXPECT_FALSE(h.unlock("m", "owner-c", locked_write::kind::touch, record_json(R"("v":9)"), now() + 2h));
  EXPECT_EQ(h.get("m").second.value_or("").find(R"("v":1)") != std::string::npos, true);
  EXPECT_TRUE(h.lock("m", "owner-d").acquired);
}

TEST_P(store_conformance, a_lock_frees_itself_when_its_lease_ends) {
  harness h(GetParam());
  if (!h.s().has_locks()) GTEST_SKIP() << "the store has no session locks";
  const std::string v1 = record_json(R"("v":1)"), v2 = record_json(R"("v":2)");
  ASSERT_FALSE(h.set("x", v1, now() + 1h));
  EXPECT_TRUE(h.lock("x", "crashed", 150ms).acquired);  // its owner never comes back
  EXPECT_FALSE(h.lock("x", "next").acquired);
  std::this_thread::sleep_for(400ms);
  lock_result next = h.lock("x", "next");
  EXPECT_TRUE(next.acquired);
  EXPECT_EQ(next.json, v1);
  // The first owner wakes up: its save is refused, the new holder's lock is untouched.
  EXPECT_EQ(h.unlock("x", "crashed", locked_write::kind::set, v2, now() + 1h, write_condition::if_present),
            error::lock_lost);
  EXPECT_EQ(h.get("x").second, v1);
  EXPECT_FALSE(h.lock("x", "third").acquired);
  EXPECT_FALSE(h.unlock("x", "next"));
}

TEST_P(store_conformance, locks_are_not_sessions) {
  harness h(GetParam());
  if (!h.s().has_locks()) GTEST_SKIP() << "the store has no session locks";
  ASSERT_FALSE(h.set("s1", record_json(""), now() + 1h));
  EXPECT_TRUE(h.lock("s1", "a").acquired);
  EXPECT_TRUE(h.lock("s2", "a").acquired);  // a lock of an id with no session
  auto [lec, n] = h.call<std::pair<std::error_code, std::size_t>>(
      [&](auto done) { h.s().length([done](std::error_code ec, std::size_t n) { done(ec, n); }); });
  if (lec == error::not_supported) GTEST_SKIP() << "optional operations not supported";
  EXPECT_EQ(n, 1u);
  auto [iec, ids] = h.call<std::pair<std::error_code, std::vector<std::string>>>(
      [&](auto done) { h.s().ids([done](std::error_code ec, std::vector<std::string> v) { done(ec, v); }); });
  EXPECT_EQ(ids, std::vector<std::string>{"s1"});
}

// Mutual exclusion, checked by its purpose: increments under the lock from several threads are
// never lost.
TEST_P(store_conformance, increments_under_the_lock_from_several_threads_are_all_kept) {
  harness h(GetParam());
  if (!h.s().has_locks()) GTEST_SKIP() << "the store has no session locks";
  ASSERT_FALSE(h.set("n", record_json(R"("n":0)"), now() + 1h));
  constexpr int threads = 4, each = 25;
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < each; ++i) {
        const std::string owner = "t" + std::to_string(t) + "-" + std::to_string(i);
        lock_result r;
        for (int tries = 0; tries < 5000 && !(r = h.lock("n", owner)).acquired; ++tries)
          std::this_thread::sleep_for(1ms);
        if (!r.acquired || !r.json) {
          ++failures;
          continue;
        }
        const auto at = r.json->find(R"("n":)");
        const int n = std::stoi(r.json->substr(at + 4));
        if (h.unlock("n", owner, locked_write::kind::set, record_json(R"("n":)" + std::to_string(n + 1)), now() + 1h,
                     write_condition::if_present))
          ++failures;
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(h.get("n").second, record_json(R"("n":)" + std::to_string(threads * each)));
}

// --- compare-and-set (concurrency merge) ---------------------------------------------------------

TEST_P(store_conformance, compare_and_set_replaces_only_the_expected_record) {
  harness h(GetParam());
  if (!h.s().has_compare_and_set()) GTEST_SKIP() << "the store has no compare-and-set";
  const std::string v1 = record_json(R"("v":1)"), v2 = record_json(R"("v":2)"), v3 = record_json(R"("v":3)");
  ASSERT_FALSE(h.set("c", v1, now() + 1h));
  EXPECT_FALSE(h.cas("c", v1, v2, now() + 1h).error);
  EXPECT_EQ(h.get("c").second, v2);
  compare_and_set_result stale = h.cas("c", v1, v3, now() + 1h);
  EXPECT_EQ(stale.error, error::record_changed);
  EXPECT_EQ(stale.current, v2);  // what is stored now comes back, to merge into
  EXPECT_EQ(h.get("c").second, v2);
  EXPECT_FALSE(h.destroy("c"));
  compare_and_set_result gone = h.cas("c", v2, v3, now() + 1h);
  EXPECT_EQ(gone.error, error::session_gone);
  EXPECT_EQ(h.get("c").second, std::nullopt);  // a destroy is final
  EXPECT_EQ(h.cas("never", v1, v3, now() + 1h).error, error::session_gone);
  EXPECT_EQ(h.get("never").second, std::nullopt);
}

TEST_P(store_conformance, compare_and_set_increments_from_several_threads_are_all_kept) {
  harness h(GetParam());
  if (!h.s().has_compare_and_set()) GTEST_SKIP() << "the store has no compare-and-set";
  ASSERT_FALSE(h.set("k", record_json(R"("n":0)"), now() + 1h));
  constexpr int threads = 4, each = 25;
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < each; ++i) {
        std::optional<std::string> current = h.get("k").second;
        for (int tries = 0; current && tries < 1000; ++tries) {
          const int n = std::stoi(current->substr(current->find(R"("n":)") + 4));
          compare_and_set_result r = h.cas("k", *current, record_json(R"("n":)" + std::to_string(n + 1)), now() + 1h);
          if (!r.error) break;
          current = r.error == error::record_changed ? r.current : std::nullopt;
        }
        if (!current) ++failures;
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(h.get("k").second, record_json(R"("n":)" + std::to_string(threads * each)));
}

TEST_P(store_conformance, a_walk_in_pages_lists_every_live_session) {
  harness h(GetParam());
  for (int i = 0; i < 25; ++i) ASSERT_FALSE(h.set("p" + std::to_string(i), record_json(R"("i":)" + std::to_string(i)), now() + 1h));
  ASSERT_FALSE(h.set("gone", record_json(""), now() + GetParam().expiry_resolution));
  std::this_thread::sleep_for(GetParam().expiry_resolution + 1200ms);
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto [ec, page] = h.call<std::pair<std::error_code, session_page>>(
        [&](auto done) { h.s().page(cursor, 4, [done](std::error_code ec, session_page p) { done(ec, p); }); });
    if (ec == error::not_supported) GTEST_SKIP() << "the store cannot walk in pages";
    ASSERT_FALSE(ec);
    for (const auto& s : page.sessions) {
      seen.insert(s.id);
      EXPECT_EQ(s.json, record_json(R"("i":)" + s.id.substr(1))) << s.id;
      ASSERT_TRUE(s.expires.has_value());
      EXPECT_GT(*s.expires, now() + 50min);
    }
    cursor = page.next;
    ASSERT_LT(++pages, 1000);
  } while (!cursor.empty());
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_FALSE(seen.contains("gone"));
}

TEST_P(store_conformance, the_user_index_follows_writes_destroys_and_expiry) {
  harness h(GetParam());
  if (!h.s().has_user_index()) GTEST_SKIP() << "the store keeps no user index";
  using ids = std::vector<std::string>;
  ASSERT_FALSE(h.set_as("a1", "alice", now() + 1h));
  ASSERT_FALSE(h.set_as("a2", "alice", now() + 1h, write_condition::if_absent));
  ASSERT_FALSE(h.set_as("b1", "bob", now() + 1h));
  ASSERT_FALSE(h.set("n1", record_json(R"("n":1)"), now() + 1h));  // nobody logged in
  EXPECT_EQ(h.ids_of("alice"), (ids{"a1", "a2"}));
  EXPECT_EQ(h.ids_of("bob"), (ids{"b1"}));
  EXPECT_EQ(h.ids_of("carol"), ids{});
  // A destroy takes the session out; a write as another user moves it; a touch keeps it.
  EXPECT_FALSE(h.destroy("a1"));
  EXPECT_EQ(h.ids_of("alice"), (ids{"a2"}));
  ASSERT_FALSE(h.set_as("a2", "bob", now() + 1h, write_condition::if_present));
  EXPECT_EQ(h.ids_of("alice"), ids{});
  EXPECT_EQ(h.ids_of("bob"), (ids{"a2", "b1"}));
  EXPECT_FALSE(h.touch("b1", harness::user_record("bob"), now() + 2h));
  EXPECT_EQ(h.ids_of("bob"), (ids{"a2", "b1"}));
  // A session written without a user (logged out) leaves the index.
  ASSERT_FALSE(h.set("a2", record_json(R"("n":2)"), now() + 1h));
  EXPECT_EQ(h.ids_of("bob"), (ids{"b1"}));
  // Expiry: a session past its expiry is not listed.
  const auto short_life = std::max<std::chrono::milliseconds>(GetParam().expiry_resolution, 500ms);
  ASSERT_FALSE(h.set_as("e1", "erin", now() + short_life));
  ASSERT_FALSE(h.set_as("e2", "erin", now() + 1h));
  EXPECT_EQ(h.ids_of("erin"), (ids{"e1", "e2"}));
  std::this_thread::sleep_for(short_life + 1200ms);
  EXPECT_EQ(h.ids_of("erin"), (ids{"e2"}));
  // Unicode user names; clear empties the index too.
  ASSERT_FALSE(h.set_as("u1", "사용자 😀", now() + 1h));
  EXPECT_EQ(h.ids_of("사용자 😀"), (ids{"u1"}));
  if (!h.call<std::error_code>([&](auto done) { h.s().clear([done](std::error_code ec) { done(ec); }); })) {
    EXPECT_EQ(h.ids_of("bob"), ids{});
    EXPECT_EQ(h.ids_of("사용자 😀"), ids{});
  }
}

// Threads writing, moving and destroying sessions of a few users at once: afterwards each
// user's list is exactly the sessions last written for them (each thread owns its ids, so the
// outcome is known).
TEST_P(store_conformance, the_user_index_stays_right_under_concurrent_writes) {
  harness h(GetParam());
  if (!h.s().has_user_index()) GTEST_SKIP() << "the store keeps no user index";
  constexpr int threads = 4, per_thread = 60;
  const std::string users[] = {"ann", "ben", "cat"};
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (h.set_as(id, users[i % 3], now() + 1h)) ++failures;
        if (i % 4 == 1 && h.set_as(id, users[(i + 1) % 3], now() + 1h)) ++failures;  // moved
        if (i % 5 == 2 && h.destroy(id)) ++failures;
        (void)h.ids_of(users[t % 3]);  // listings meanwhile
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures, 0);
  for (int u = 0; u < 3; ++u) {
    std::vector<std::string> expected;
    for (int t = 0; t < threads; ++t)
      for (int i = 0; i < per_thread; ++i) {
        if (i % 5 == 2) continue;  // destroyed
        const int owner = i % 4 == 1 ? (i + 1) % 3 : i % 3;
        if (owner == u) expected.push_back("t" + std::to_string(t) + "-" + std::to_string(i));
      }
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(h.ids_of(users[u]), expected) << users[u];
  }
}

TEST_P(store_conformance, the_user_index_under_locks_and_compare_and_set) {
  harness h(GetParam());
  if (!h.s().has_user_index()) GTEST_SKIP() << "the store keeps no user index";
  using ids = std::vector<std::string>;
  if (h.s().has_locks()) {
    ASSERT_TRUE(h.lock("l1", "owner").acquired);
    ASSERT_FALSE(h.call<std::error_code>([&](auto done) {
      locked_write w;
      w.what = locked_write::kind::set;
      w.record = {harness::user_record("lena"), now() + 1h, "lena"};
      w.condition = write_condition::if_absent;
      h.s().write_and_unlock("l1", "owner", std::move(w), [done](std::error_code ec) { done(ec); });
    }));
    EXPECT_EQ(h.ids_of("lena"), (ids{"l1"}));
    ASSERT_TRUE(h.lock("l1", "owner2").acquired);
    EXPECT_FALSE(h.unlock("l1", "owner2", locked_write::kind::destroy));
    EXPECT_EQ(h.ids_of("lena"), ids{});
  }
  if (h.s().has_compare_and_set()) {
    const std::string before = record_json(R"("v":1)");
    ASSERT_FALSE(h.set("c1", before, now() + 1h));
    compare_and_set_result r = h.call<compare_and_set_result>([&](auto done) {
      h.s().compare_and_set("c1", before, {harness::user_record("cas"), now() + 1h, "cas"},
                            [done](compare_and_set_result r) { done(std::move(r)); });
    });
    EXPECT_FALSE(r.error);
    EXPECT_EQ(h.ids_of("cas"), (ids{"c1"}));
  }
}

TEST_P(store_conformance, unicode_ids_and_data) {
  harness h(GetParam());
  const std::string id = "세션-ü-😀";
  const std::string json = record_json(R"("name":"한국어 é 😀","q":"\u0000\n\"")");
  EXPECT_FALSE(h.set(id, json, now() + 1h));
  EXPECT_EQ(h.get(id).second, json);
}

TEST_P(store_conformance, one_mebibyte_payload) {
  harness h(GetParam());
  const std::string json = record_json(R"("blob":")" + std::string(1 << 20, 'x') + "\"");
  EXPECT_FALSE(h.set("big", json, now() + 1h));
  EXPECT_EQ(h.get("big").second, json);
}

TEST_P(store_conformance, all_ids_length_clear) {
  harness h(GetParam());
  for (int i = 0; i < 30; ++i) EXPECT_FALSE(h.set("k" + std::to_string(i), record_json(R"("i":)" + std::to_string(i)), now() + 1h));
  EXPECT_FALSE(h.set("dead", record_json(""), now() - 1s));
  using length_result = std::pair<std::error_code, std::size_t>;
  auto [lec, n] = h.call<length_result>([&](auto done) { h.s().length([done](std::error_code ec, std::size_t v) { done(ec, v); }); });
  if (lec == error::not_supported) GTEST_SKIP() << "optional operations not supported";
  EXPECT_FALSE(lec);
  EXPECT_EQ(n, 30u);
  using ids_result = std::pair<std::error_code, std::vector<std::string>>;
  auto [iec, ids] = h.call<ids_result>([&](auto done) { h.s().ids([done](std::error_code ec, std::vector<std::string> v) { done(ec, v); }); });
  EXPECT_FALSE(iec);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids.size(), 30u);
  EXPECT_TRUE(std::binary_search(ids.begin(), ids.end(), "k7"));
  using all_result = std::pair<std::error_code, std::vector<std::pair<std::string, std::string>>>;
  auto [aec, all] = h.call<all_result>([&](auto done) {
    h.s().all([done](std::error_code ec, std::vector<std::pair<std::string, std::string>> v) { done(ec, v); });
  });
  EXPECT_FALSE(aec);
  ASSERT_EQ(all.size(), 30u);
  for (const auto& [id, json] : all) EXPECT_EQ(json, record_json(R"("i":)" + id.substr(1))) << id;
  EXPECT_FALSE(h.call<std::error_code>([&](auto done) { h.s().clear([done](std::error_code ec) { done(ec); }); }));
  EXPECT_EQ(h.get("k1").second, std::nullopt);
}

TEST_P(store_conformance, many_concurrent_operations_from_several_threads) {
  harness h(GetParam());
  constexpr int threads = 4, per_thread = 250;
  std::atomic<int> completions{0}, errors{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string id = "c" + std::to_string(t) + "-" + std::to_string(i % 25);
        h.s().set(id, {record_json(R"("v":)" + std::to_string(i)), now() + 1h}, [&](std::error_code ec) {
          errors += bool(ec);
          ++completions;
        });
        h.s().get(id, [&](std::error_code ec, std::optional<std::string>) {
          errors += bool(ec);
          ++completions;
        });
      }
    });
  }
  for (auto& w : workers) w.join();
  const int expected = threads * per_thread * 2;
  for (int i = 0; i < 1000 && completions < expected; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(completions.load(), expected);
  EXPECT_EQ(errors.load(), 0);
  // Each thread's last write to each of its ids is what the store holds.
  for (int t = 0; t < threads; ++t)
    EXPECT_EQ(h.get("c" + std::to_string(t) + "-24").second, record_json(R"("v":249)"));
}

TEST_P(store_conformance, completes_exactly_once_when_shut_down_with_operations_in_flight) {
  harness h(GetParam());
  constexpr int n = 300;
  auto counts = std::make_shared<std::vector<std::atomic<int>>>(n);
  std::promise<void> all_done;
  auto remaining = std::make_shared<std::atomic<int>>(n);
  for (int i = 0; i < n; ++i) {
    auto done = [counts, i, remaining, &all_done](auto&&...) {
      ++(*counts)[std::size_t(i)];
      if (--*remaining == 0) all_done.set_value();
    };
    const std::string id = "s" + std::to_string(i);
    switch (i % 3) {
      case 0: h.s().set(id, {record_json(""), now() + 1h}, done); break;
      case 1: h.s().get(id, done); break;
      default: h.s().destroy(id, done); break;
    }
  }
  h.s().shutdown();
  ASSERT_EQ(all_done.get_future().wait_for(10s), std::future_status::ready);
  std::this_thread::sleep_for(50ms);
  for (int i = 0; i < n; ++i) EXPECT_EQ((*counts)[std::size_t(i)].load(), 1) << i;
}

}  // namespace
}  // namespace sessionkit::conformance
