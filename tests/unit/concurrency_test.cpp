// Issue 14, part 2: the `concurrency` option. `lock` serialises the requests of one session
// (waiting up to lock_timeout, released with the write, by the driver's destructor, or by the
// lease); `merge` saves with compare-and-set and re-applies a request's own changes to a record
// changed meanwhile. Driven through the request driver as adapters drive it, on a real
// MemoryStore: answered at once, and through the asynchronous forms only (as RedisStore and
// SqliteStore answer).

#include <sessionkit/engine.hpp>
#include <sessionkit/stores/memory_store.hpp>

#include "recording_store.hpp"

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <memory>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

// MemoryStore seen only through the asynchronous store contract (no `immediate()`).
class async_only final : public store {
 public:
  explicit async_only(std::shared_ptr<memory_store> inner) : inner_(std::move(inner)) {}
  void get(std::string_view id, get_handler h) override { inner_->get(id, std::move(h)); }
  void set(std::string_view id, session_record r, completion_handler h) override {
    inner_->set(id, std::move(r), std::move(h));
  }
  bool has_conditional_set() const noexcept override { return true; }
  void set_if(std::string_view id, session_record r, write_condition c, completion_handler h) override {
    inner_->set_if(id, std::move(r), c, std::move(h));
  }
  void destroy(std::string_view id, completion_handler h) override { inner_->destroy(id, std::move(h)); }
  bool has_touch() const noexcept override { return true; }
  void touch(std::string_view id, session_record r, completion_handler h) override {
    inner_->touch(id, std::move(r), std::move(h));
  }
  bool has_locks() const noexcept override { return true; }
  void lock_and_get(std::string_view id, lock_claim c, lock_handler h) override {
    inner_->lock_and_get(id, c, std::move(h));
  }
  void write_and_unlock(std::string_view id, std::string_view owner, locked_write w, completion_handler h) override {
    inner_->write_and_unlock(id, owner, std::move(w), std::move(h));
  }
  void defer_for(std::chrono::milliseconds d, detail::unique_function<void()> f) override {
    inner_->defer_for(d, std::move(f));
  }
  bool has_compare_and_set() const noexcept override { return true; }
  void compare_and_set(std::string_view id, std::string_view expected, session_record r,
                       compare_and_set_handler h) override {
    inner_->compare_and_set(id, expected, std::move(r), std::move(h));
  }
  void defer(detail::unique_function<void()> f) override { inner_->defer(std::move(f)); }

 private:
  std::shared_ptr<memory_store> inner_;
};

// One session's requests, started and ended step by step so tests can interleave them.
class harness {
 public:
  harness(concurrency_mode mode, bool at_once, std::function<void(options&)> tune = {})
      : memory(std::make_shared<memory_store>(io.get_executor())) {
    options o;
    o.secrets = {"keyboard cat"};
    o.concurrency = mode;
    o.lock_timeout = 2s;
    if (tune) tune(o);
    std::shared_ptr<store> s = memory;
    if (!at_once) s = std::make_shared<async_only>(memory);
    eng = std::make_unique<engine>(o, s);
  }
  ~harness() { memory->shutdown(); }

  struct request {
    std::shared_ptr<request_driver> driver;
    std::optional<std::error_code> loaded;
    std::optional<std::error_code> ended;
    std::optional<std::string> set_cookie;
  };

  // Begins a request and starts its load; `loaded` is set once it completes (run the io).
  std::unique_ptr<request> begin(const std::string& cookie_header) {
    auto r = std::make_unique<request>();
    request_info info;
    info.path = "/";
    info.cookie_header = cookie_header;
    r->driver = eng->begin(info);
    r->driver->load([p = r.get()](std::error_code ec) { p->loaded = ec; });
    return r;
  }
  void end(request& r) {
    r.driver->end([p = &r](std::error_code ec, std::optional<std::string> cookie) {
      p->ended = ec;
      p->set_cookie = std::move(cookie);
    });
  }
  // Runs the io until `done` holds (or fails the test after a few seconds).
  void run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.restart();
      io.run_for(1ms);
    }
    ASSERT_TRUE(done()) << "timed out";
  }
  void settle() {
    io.restart();
    io.run_for(20ms);
  }
  // A whole request: load, `handler`, end.
  std::unique_ptr<request> whole(const std::string& cookie_header, const std::function<void(session&)>& handler = {}) {
    auto r = begin(cookie_header);
    run_until([&] { return r->loaded.has_value(); });
    if (*r->loaded) return r;
    if (handler && r->driver->current()) handler(*r->driver->current());
    end(*r);
    run_until([&] { return r->ended.has_value(); });
    return r;
  }
  std::optional<std::string> record(const std::string& id) {
    std::optional<std::string> out;
    bool done = false;
    memory->get(id, [&](std::error_code, std::optional<std::string> json) {
      out = std::move(json);
      done = true;
    });
    run_until([&] { return done; });
    return out;
  }

  boost::asio::io_context io;
  std::shared_ptr<memory_store> memory;
  std::unique_ptr<engine> eng;
};

std::string cookie_of(const harness::request& r) { return r.set_cookie->substr(0, r.set_cookie->find(';')); }

void increment(session& s) {
  auto& v = s["count"];
  v = v.is_int64() ? v.get_int64() + 1 : 1;
}

class lock_mode : public ::testing::TestWithParam<bool> {};  // answered at once, or asynchronously

TEST_P(lock_mode, a_second_request_waits_for_the_first_and_sees_its_write) {
  harness h(concurrency_mode::lock, GetParam());
  auto first = h.whole("", increment);
  const std::string cookie = cookie_of(*first);
  const std::string id = first->driver->current()->id();
  auto a = h.begin(cookie);
  h.run_until([&] { return a->loaded.has_value(); });
  ASSERT_FALSE(*a->loaded);
  auto b = h.begin(cookie);  // the same session: waits for a's lock
  h.settle();
  EXPECT_FALSE(b->loaded.has_value()) << "b loaded while a held the lock";
  increment(*a->driver->current());
  h.end(*a);
  h.run_until([&] { return a->ended.has_value() && b->loaded.has_value(); });
  EXPECT_FALSE(*a->ended);
  ASSERT_FALSE(*b->loaded);
  EXPECT_EQ((*b->driver->current())["count"], 2);  // b loaded after a's write
  increment(*b->driver->current());
  h.end(*b);
  h.run_until([&] { return b->ended.has_value(); });
  EXPECT_NE(h.record(id).value_or("").find(R"("count":3)"), std::string::npos);
}

TEST_P(lock_mode, past_lock_timeout_the_request_fails_as_unavailable_and_writes_nothing) {
  harness h(concurrency_mode::lock, GetParam(), [](options& o) { o.lock_timeout = 60ms; });
  auto first = h.whole("", increment);
  const std::string cookie = cookie_of(*first);
  const std::string id = first->driver->current()->id();
  auto a = h.begin(cookie);
  h.run_until([&] { return a->loaded.has_value(); });
  auto b = h.begin(cookie);
  h.run_until([&] { return b->loaded.has_value(); });
  EXPECT_EQ(*b->loaded, error::lock_timeout);
  EXPECT_TRUE(is_unavailable(*b->loaded));  // answered 503 with Retry-After by the adapters
  // a still holds the lock and saves.
  (*a->driver->current())["count"] = 10;
  h.end(*a);
  h.run_until([&] { return a->ended.has_value(); });
  EXPECT_FALSE(*a->ended);
  EXPECT_NE(h.record(id).value_or("").find(R"("count":10)"), std::string::npos);
}

TEST_P(lock_mode, a_request_dropped_without_its_end_releases_the_lock) {
  harness h(concurrency_mode::lock, GetParam(), [](options& o) { o.lock_timeout = 100ms; });
  auto first = h.whole("", increment);
  const std::string cookie = cookie_of(*first);
  auto a = h.begin(cookie);
  h.run_until([&] { return a->loaded.has_value(); });
  a.reset();  // the handler threw, the connection went away: the driver goes
  h.settle();
  auto b = h.whole(cookie, increment);
  ASSERT_FALSE(*b->loaded);
  EXPECT_EQ((*b->driver->current())["count"], 2);
}

TEST_P(lock_mode, requests_without_a_session_cookie_take_no_lock) {
  harness h(concurrency_mode::lock, GetParam());
  auto a = h.begin("");  // a new session: nothing to wait for, nothing locked
  EXPECT_TRUE(a->loaded.has_value());
  auto b = h.whole("", increment);
  EXPECT_FALSE(*b->ended);
}

TEST_P(lock_mode, regenerate_and_destroy_release_the_lock_of_the_old_id) {
  harness h(concurrency_mode::lock, GetParam(), [](options& o) { o.lock_timeout = 100ms; });
  auto first = h.whole("", increment);
  const std::string cookie = cookie_of(*first);
  const std::string old_id = first->driver->current()->id();
  auto a = h.begin(cookie);
  h.run_until([&] { return a->loaded.has_value(); });
  bool regenerated = false;
  a->driver->current()->regenerate([&](std::error_code ec) {
    EXPECT_FALSE(ec);
    regenerated = true;
  });
  h.run_until([&] { return regenerated; });
  // The old id is free at once (and gone): a request with the old cookie gets a new session.
  auto b = h.whole(cookie);
  ASSERT_FALSE(*b->loaded);
  EXPECT_NE(b->driver->current()->id(), old_id);
  h.end(*a);
  h.run_until([&] { return a->ended.has_value(); });
  EXPECT_FALSE(*a->ended);
  // destroy under the lock: the record goes and the lock with it.
  auto c = h.whole(cookie_of(*a), [](session&) {});
  auto d = h.begin(cookie_of(*a));
  h.run_until([&] { return d->loaded.has_value(); });
  bool destroyed = false;
  d->driver->current()->destroy([&](std::error_code ec) {
    EXPECT_FALSE(ec);
    destroyed = true;
  });
  h.run_until([&] { return destroyed; });
  auto e = h.whole(cookie_of(*a));
  ASSERT_FALSE(*e->loaded);  // not lock_timeout: the destroy released the lock
}

INSTANTIATE_TEST_SUITE_P(forms, lock_mode, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "at_once" : "asynchronous"; });

class merge_mode : public ::testing::TestWithParam<bool> {};

TEST_P(merge_mode, concurrent_requests_changing_different_keys_all_survive) {
  harness h(concurrency_mode::merge, GetParam());
  auto first = h.whole("", [](session& s) {
    s["keep"] = "me";
    s["drop"] = 1;
    s["shared"] = 0;
  });
  const std::string cookie = cookie_of(*first);
  const std::string id = first->driver->current()->id();
  auto a = h.begin(cookie);
  auto b = h.begin(cookie);
  h.run_until([&] { return a->loaded.has_value() && b->loaded.has_value(); });
  (*a->driver->current())["a"] = "from a";
  (*a->driver->current())["shared"] = "a";
  a->driver->current()->data().erase("drop");
  (*b->driver->current())["b"] = boost::json::array{1, 2};
  (*b->driver->current())["shared"] = "b";
  h.end(*a);
  h.run_until([&] { return a->ended.has_value(); });
  h.end(*b);  // loaded before a's write: merges
  h.run_until([&] { return b->ended.has_value(); });
  EXPECT_FALSE(*a->ended);
  EXPECT_FALSE(*b->ended);
  const std::string stored = h.record(id).value_or("");
  EXPECT_NE(stored.find(R"("keep":"me")"), std::string::npos) << stored;
  EXPECT_NE(stored.find(R"("a":"from a")"), std::string::npos) << stored;
  EXPECT_NE(stored.find(R"("b":[1,2])"), std::string::npos) << stored;
  EXPECT_NE(stored.find(R"("shared":"b")"), std::string::npos) << stored;  // the later save wins
  EXPECT_EQ(stored.find(R"("drop")"), std::string::npos) << stored;        // a's delete kept
  // b's session now holds the merged data too.
  EXPECT_EQ((*b->driver->current())["a"], "from a");
}

TEST_P(merge_mode, an_explicit_save_merges_and_a_later_end_merges_again) {
  harness h(concurrency_mode::merge, GetParam());
  auto first = h.whole("", [](session& s) { s["n"] = 0; });
  const std::string cookie = cookie_of(*first);
  const std::string id = first->driver->current()->id();
  auto a = h.begin(cookie);
  h.run_until([&] { return a->loaded.has_value(); });
  h.whole(cookie, [](session& s) { s["other"] = 1; });  // changes the record under a
  (*a->driver->current())["x"] = 1;
  std::optional<std::error_code> saved;
  a->driver->current()->save([&](std::error_code ec) { saved = ec; });
  h.run_until([&] { return saved.has_value(); });
  EXPECT_FALSE(*saved);
  h.whole(cookie, [](session& s) { s["third"] = 3; });
  (*a->driver->current())["y"] = 2;
  h.end(*a);
  h.run_until([&] { return a->ended.has_value(); });
  EXPECT_FALSE(*a->ended);
  const std::string stored = h.record(id).value_or("");
  for (const char* key : {R"("other":1)", R"("x":1)", R"("third":3)", R"("y":2)"})
    EXPECT_NE(stored.find(key), std::string::npos) << key << " missing in " << stored;
}

TEST_P(merge_mode, a_destroy_wins_over_a_merge) {
  harness h(concurrency_mode::merge, GetParam());
  auto first = h.whole("", [](session& s) { s["n"] = 0; });
  const std::string cookie = cookie_of(*first);
  const std::string id = first->driver->current()->id();
  auto a = h.begin(cookie);
  h.run_until([&] { return a->loaded.has_value(); });
  auto killer = h.begin(cookie);
  h.run_until([&] { return killer->loaded.has_value(); });
  bool destroyed = false;
  killer->driver->current()->destroy([&](std::error_code) { destroyed = true; });
  h.run_until([&] { return destroyed; });
  (*a->driver->current())["n"] = 5;
  h.end(*a);
  h.run_until([&] { return a->ended.has_value(); });
  EXPECT_FALSE(*a->ended);  // answered normally...
  EXPECT_FALSE(a->set_cookie.has_value());  // ...with no cookie for the dead session
  EXPECT_EQ(h.record(id), std::nullopt);
}

TEST_P(merge_mode, a_record_broken_under_a_merge_is_reported_and_left_alone) {
  harness h(concurrency_mode::merge, GetParam());
  auto first = h.whole("", [](session& s) { s["n"] = 0; });
  const std::string cookie = cookie_of(*first);
  const std::string id = first->driver->current()->id();
  auto a = h.begin(cookie);
  h.run_until([&] { return a->loaded.has_value(); });
  bool written = false;
  h.memory->set(id, {"{not a session", now() + 1h}, [&](std::error_code) { written = true; });
  h.run_until([&] { return written; });
  (*a->driver->current())["n"] = 5;
  h.end(*a);
  h.run_until([&] { return a->ended.has_value(); });
  EXPECT_EQ(*a->ended, error::invalid_record);  // the request fails (500), clearly
  EXPECT_EQ(h.record(id), "{not a session");
}

TEST_P(merge_mode, a_record_that_keeps_changing_fails_after_merge_attempts) {
  harness h(concurrency_mode::merge, GetParam(), [](options& o) { o.merge_attempts = 1; });
  auto first = h.whole("", [](session& s) { s["n"] = 0; });
  const std::string cookie = cookie_of(*first);
  auto a = h.begin(cookie);
  h.run_until([&] { return a->loaded.has_value(); });
  h.whole(cookie, [](session& s) { s["other"] = 1; });
  (*a->driver->current())["n"] = 5;
  h.end(*a);
  h.run_until([&] { return a->ended.has_value(); });
  EXPECT_EQ(*a->ended, error::record_changed);
  EXPECT_TRUE(is_unavailable(*a->ended));
}

INSTANTIATE_TEST_SUITE_P(forms, merge_mode, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "at_once" : "asynchronous"; });

TEST(concurrency_options, a_store_without_the_capability_is_refused_at_construction) {
  options o;
  o.secrets = {"keyboard cat"};
  auto plain = std::make_shared<recording_store>();
  o.concurrency = concurrency_mode::lock;
  try {
    engine e(o, plain);
    FAIL() << "lock accepted without locks";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("session locks"), std::string::npos) << e.what();
  }
  o.concurrency = concurrency_mode::merge;
  try {
    engine e(o, plain);
    FAIL() << "merge accepted without compare-and-set";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("compare-and-set"), std::string::npos) << e.what();
  }
  o.concurrency = concurrency_mode::none;
  EXPECT_NO_THROW(engine(o, plain));
}

}  // namespace
}  // namespace sessionkit::test
