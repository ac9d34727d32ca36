// Issue 16, item 3: set_user, the engine's side of the user index (sessions_of, destroy_all_of,
// the per-user limit) on MemoryStore, whose answers come inside the call, and the login and
// "last seen" bookkeeping the records carry.

#include "engine_harness.hpp"

#include <sessionkit/events.hpp>
#include <sessionkit/json.hpp>
#include <sessionkit/stores/memory_store.hpp>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <mutex>
#include <thread>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

std::int64_t ms(timestamp t) { return t.time_since_epoch().count(); }

// An engine on a MemoryStore, driven the way the adapters drive it.
class memory_app {
 public:
  explicit memory_app(options o) : store_(std::make_shared<memory_store>(io_.get_executor())), eng(std::move(o), store_) {}

  // One request with `cookie`; `handler` runs with the session. @return the cookie to send next
  std::string request(const std::string& cookie, const std::function<void(session&)>& handler = {}) {
    request_info info;
    info.path = "/";
    info.cookie_header = cookie;
    auto driver = eng.begin(info);
    EXPECT_TRUE(driver->completes_at_once());
    bool loaded = false;
    driver->load([&](std::error_code ec) {
      EXPECT_FALSE(ec);
      loaded = true;
    });
    EXPECT_TRUE(loaded);
    if (handler) handler(*driver->current());
    bool ended = false;
    std::optional<std::string> set_cookie;
    driver->end([&](std::error_code ec, std::optional<std::string> c) {
      EXPECT_FALSE(ec);
      set_cookie = std::move(c);
      ended = true;
    });
    EXPECT_TRUE(ended) << "a store that answers at once completes inside the call, logins included";
    return set_cookie ? set_cookie->substr(0, set_cookie->find(';')) : cookie;
  }

  // A login as `user`: regenerate, then set_user, as the example's POST /login does.
  std::string login(const std::string& cookie, const std::string& user) {
    return request(cookie, [&](session& s) {
      bool done = false;
      s.regenerate([&](std::error_code ec) {
        EXPECT_FALSE(ec);
        done = true;
      });
      EXPECT_TRUE(done);
      s.set_user(user);
    });
  }

  std::string user_of(const std::string& cookie) {
    std::string user;
    request(cookie, [&](session& s) { user = s.user(); });
    return user;
  }

  std::vector<user_session> sessions_of(const std::string& user) {
    std::vector<user_session> out;
    bool done = false;
    eng.sessions_of(user, [&](std::error_code ec, std::vector<user_session> v) {
      EXPECT_FALSE(ec);
      out = std::move(v);
      done = true;
    });
    run_until(done);
    return out;
  }

  std::size_t destroy_all_of(const std::string& user, const std::string& keep) {
    std::size_t n = 0;
    bool done = false;
    eng.destroy_all_of(user, keep, [&](std::error_code ec, std::size_t ended) {
      EXPECT_FALSE(ec);
      n = ended;
      done = true;
    });
    run_until(done);
    return n;
  }

  // Runs the store's completions (its pruning timer keeps the io_context busy for ever).
  void run_until(const bool& done) {
    for (int i = 0; i < 500 && !done; ++i) io_.run_one_for(10ms);
    EXPECT_TRUE(done);
  }

  std::string id_of(const std::string& cookie) { return eng.read_session_id(cookie).value_or(""); }

  boost::asio::io_context io_;
  std::shared_ptr<memory_store> store_;
  engine eng;
};

options app_options() {
  options o = test_options();
  o.resave = false;
  o.cookie.max_age = 1h;
  return o;
}

TEST(user_index, set_user_records_the_user_and_the_login_time) {
  memory_app app(app_options());
  const auto before = ms(now());
  const std::string cookie = app.login("", "alice");
  EXPECT_EQ(app.user_of(cookie), "alice");
  const auto sessions = app.sessions_of("alice");
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].id, app.id_of(cookie));
  ASSERT_TRUE(sessions[0].created && sessions[0].last_seen);
  EXPECT_GE(ms(*sessions[0].created), before);
  EXPECT_EQ(sessions[0].data.at("user"), "alice");
  EXPECT_TRUE(app.sessions_of("bob").empty());
  EXPECT_TRUE(app.sessions_of("").empty());
}

TEST(user_index, sessions_are_listed_oldest_login_first_and_log_out_everywhere_keeps_the_one_asked) {
  memory_app app(app_options());
  std::vector<std::string> cookies;
  for (int i = 0; i < 3; ++i) {
    cookies.push_back(app.login("", "alice"));
    std::this_thread::sleep_for(3ms);
  }
  const auto sessions = app.sessions_of("alice");
  ASSERT_EQ(sessions.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sessions[i].id, app.id_of(cookies[i])) << i;
  EXPECT_EQ(app.destroy_all_of("alice", app.id_of(cookies[1])), 2u);
  EXPECT_EQ(app.user_of(cookies[0]), "");
  EXPECT_EQ(app.user_of(cookies[1]), "alice");
  EXPECT_EQ(app.user_of(cookies[2]), "");
  EXPECT_EQ(app.destroy_all_of("alice", ""), 1u);
  EXPECT_TRUE(app.sessions_of("alice").empty());
}

TEST(user_index, a_login_beyond_the_limit_ends_the_oldest_and_only_logins_count) {
  options o = app_options();
  o.max_sessions_per_user = 2;
  memory_app app(o);
  const std::string a = app.login("", "carol");
  std::this_thread::sleep_for(3ms);
  const std::string b = app.login("", "carol");
  std::this_thread::sleep_for(3ms);
  // Requests of a logged-in session are no logins: nothing ends.
  EXPECT_EQ(app.user_of(a), "carol");
  EXPECT_EQ(app.user_of(b), "carol");
  const std::string c = app.login("", "carol");
  EXPECT_EQ(app.user_of(a), "") << "the oldest login ends";
  EXPECT_EQ(app.user_of(b), "carol");
  EXPECT_EQ(app.user_of(c), "carol");
  EXPECT_EQ(app.sessions_of("carol").size(), 2u);
  // Another user's sessions do not count.
  app.login("", "dave");
  EXPECT_EQ(app.sessions_of("carol").size(), 2u);
}

// A session ended from a listing (log out everywhere, the per-user limit) is named in its
// events as it is everywhere else, also when ids are hashed at rest (listings give store keys).
TEST(user_index, events_of_listed_sessions_carry_the_sessions_own_id_hash) {
  for (const bool hashed : {false, true}) {
    SCOPED_TRACE(hashed ? "hashed ids" : "plain ids");
    std::mutex mutex;
    std::vector<session_event> events;
    options o = app_options();
    if (hashed) o.id_hash_key = "a key of its own";
    o.max_sessions_per_user = 1;
    o.on_event = [&](const session_event& e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
    };
    memory_app app(o);
    app.login("", "gus");
    app.login("", "gus");  // ends the first: over the limit
    app.login("", "hal");
    EXPECT_EQ(app.destroy_all_of("hal", ""), 1u);
    app.eng.flush_events();
    auto hash_of = [&](session_event_kind kind, const std::string& reason) {
      std::lock_guard lock(mutex);
      std::vector<std::string> out;
      for (const auto& e : events)
        if (e.kind == kind && e.reason == reason) out.push_back(e.id_hash);
      return out;
    };
    const auto created = hash_of(session_event_kind::created, "new");
    ASSERT_EQ(created.size(), 3u);
    EXPECT_EQ(hash_of(session_event_kind::destroyed, "session limit"), std::vector<std::string>{created[0]});
    EXPECT_EQ(hash_of(session_event_kind::destroyed, "logout everywhere"), std::vector<std::string>{created[2]});
  }
}

TEST(user_index, the_limit_needs_a_store_with_a_user_index) {
  options o = test_options();
  o.max_sessions_per_user = 3;
  EXPECT_THROW(engine(o, std::make_shared<recording_store>()), std::invalid_argument);
}

// Without timeouts, a logged-in session's "last seen" is kept to the minute (for its user's
// list): rewritten when a minute old, not on every request.
TEST(user_index, last_seen_of_a_logged_in_session_is_rewritten_when_a_minute_old) {
  options o = test_options();
  o.resave = false;
  engine_harness h(o);
  const auto first = h.request("", [](request_driver& d) { d.current()->set_user("erin"); });
  ASSERT_TRUE(h.store->records.count(first.id));
  auto seen = [&] {
    std::error_code ec;
    return parse_json(h.store->records.at(first.id).json, ec)->at("_sessionkit_seen").as_int64();
  };
  auto set_seen = [&](std::int64_t v) {
    std::error_code ec;
    auto value = parse_json(h.store->records.at(first.id).json, ec);
    value->as_object()["_sessionkit_seen"] = v;
    h.store->records.at(first.id).json = stringify(*value);
  };
  const std::int64_t recent = ms(now()) - 10'000, stale = ms(now()) - 61'000;
  set_seen(recent);
  auto writes = [&] { return std::count(h.store->calls.begin(), h.store->calls.end(), "set " + first.id); };
  const auto before = writes();
  h.request(first.cookie_header());
  EXPECT_EQ(seen(), recent);
  EXPECT_EQ(writes(), before) << "a read of a fresh session is no write";
  set_seen(stale);
  h.request(first.cookie_header());
  EXPECT_GE(seen(), ms(now()) - 5'000);
  EXPECT_EQ(h.store->records.at(first.id).user, "erin");
}

// A store that keeps its user index apart (Redis) is told when it may skip the index: on a
// logged-in session's ordinary writes, not on the login, nor when "last seen" was rewritten (then
// the entry is made to live a refresh interval past the record).
TEST(user_index, only_logins_new_ids_and_last_seen_rewrites_refresh_a_separate_index) {
  options o = test_options();
  o.resave = false;
  o.idle_timeout = 10min;  // "last seen" rewritten when a minute old
  engine_harness h(o);
  const auto login = h.request("", [](request_driver& d) { d.current()->set_user("ines"); });
  const session_record& first = h.store->records.at(login.id);
  EXPECT_FALSE(first.index_current);
  EXPECT_EQ(first.index_slack, 1min);
  counting_request(h, login.cookie_header());
  EXPECT_TRUE(h.store->records.at(login.id).index_current) << "an ordinary write of a logged-in session";
  // "Last seen" stale: rewritten, and the index with it.
  std::error_code ec;
  auto v = parse_json(h.store->records.at(login.id).json, ec);
  v->as_object()["_sessionkit_seen"] = now().time_since_epoch().count() - 61'000;
  h.store->records.at(login.id).json = stringify(*v);
  counting_request(h, login.cookie_header());
  EXPECT_FALSE(h.store->records.at(login.id).index_current);
  EXPECT_EQ(h.store->records.at(login.id).index_slack, 1min);
  // A session nobody logged in to has nothing to index.
  const auto anonymous = counting_request(h, "");
  EXPECT_TRUE(h.store->records.at(anonymous.id).user.empty());
}

}  // namespace
}  // namespace sessionkit::test
