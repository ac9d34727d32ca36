// Issue 16, item 3, end to end: the user index behind the example's account routes (POST /login,
// GET /whoami, POST /logout, GET /my-sessions, POST /logout-everywhere) on memory, Redis and
// SQLite, with two servers sharing Redis or one SQLite file and requests alternating between
// them. Three logins of one user are listed; logging out everywhere from one ends the others on
// both servers; the per-user limit ends the oldest; the index holds no dead ids after destroy and
// expiry, checked in Redis and in the SQLite file themselves. Every example server has the routes.

#include "store_servers.hpp"

#include <boost/json/parse.hpp>

#include <thread>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

const header_list form{{"Content-Type", "application/x-www-form-urlencoded"}};

header_list with_form(const cookie_jar& jar) {
  header_list h = jar.headers();
  h.insert(h.end(), form.begin(), form.end());
  return h;
}

class user_sessions : public store_servers {
 protected:
  response login(cookie_jar& jar, const std::string& user) {
    const response r = post(next_port(), "/login", "user=" + user, with_form(jar));
    jar.store(r);
    return r;
  }
  // GET /whoami on every server: the same answer from each, returned.
  std::string whoami(const cookie_jar& jar) {
    std::string first;
    for (std::size_t i = 0; i < ports_.size(); ++i) {
      const response r = get(ports_[i], "/whoami", jar.headers());
      const std::string answer = r.status == 200 ? r.body : std::to_string(r.status);
      if (i == 0) first = answer;
      else EXPECT_EQ(answer, first) << "server " << i << " answers otherwise";
    }
    return first;
  }
  boost::json::array my_sessions(const cookie_jar& jar) {
    const response r = get(next_port(), "/my-sessions", jar.headers());
    EXPECT_EQ(r.status, 200u) << describe(r);
    if (r.status != 200) return {};
    return boost::json::parse(r.body).as_array();
  }

  // The ids the store's own index holds for `user` (memory: none to look at, see the
  // conformance suite); live ones only for SQLite, as its expired rows wait for the pruner.
  std::optional<std::vector<std::string>> indexed(const std::string& user) {
    std::vector<std::string> ids;
    if (redis_) {
      for (const auto& e : redis_->command({"ZRANGE", "sessionkit-user:" + user, "0", "-1"}).elements) ids.push_back(e.text);
      return ids;
    }
    if (db_.empty()) return std::nullopt;
    for (const auto& row : sqlite_rows("SELECT id, coalesce(user, '') FROM sessions WHERE expires > ?1"))
      if (row[1] == user) ids.push_back(row[0]);
    return ids;
  }
};

TEST_P(user_sessions, three_logins_are_listed_and_logging_out_everywhere_ends_them_on_every_server) {
  start();
  cookie_jar alice[3], bob;
  for (auto& jar : alice) {
    jar.store(get(next_port(), "/memory-store-counter"));  // a session before the login
    const std::string before = jar.session_id();
    const response r = login(jar, "alice");
    ASSERT_EQ(r.body, "logged in as alice") << describe(r);
    EXPECT_NE(jar.session_id(), before) << "a login must regenerate the session id";
  }
  ASSERT_EQ(login(bob, "bob").body, "logged in as bob");
  for (auto& jar : alice) EXPECT_EQ(whoami(jar), "alice");
  EXPECT_EQ(whoami(bob), "bob");
  EXPECT_EQ(whoami(cookie_jar{}), "401");

  const boost::json::array listed = my_sessions(alice[0]);
  ASSERT_EQ(listed.size(), 3u);
  int current = 0;
  for (const auto& s : listed) {
    current += s.at("current").as_bool();
    EXPECT_EQ(s.at("id").as_string().size(), 8u);
    EXPECT_TRUE(s.at("created").is_string());
    EXPECT_TRUE(s.at("lastSeen").is_string());
  }
  EXPECT_EQ(current, 1);
  if (auto ids = indexed("alice")) {
    EXPECT_EQ(ids->size(), 3u);
  }

  const response ended = post(next_port(), "/logout-everywhere", "", with_form(alice[1]));
  EXPECT_EQ(ended.body, "3 sessions ended") << describe(ended);
  for (auto& jar : alice) EXPECT_EQ(whoami(jar), "401");
  EXPECT_EQ(whoami(bob), "bob");  // another user's session is untouched
  if (auto ids = indexed("alice")) {
    EXPECT_TRUE(ids->empty()) << "dead ids left in the index";
  }
  if (auto ids = indexed("bob")) {
    EXPECT_EQ(ids->size(), 1u);
  }
}

TEST_P(user_sessions, the_per_user_limit_ends_the_oldest_login) {
  start({"--max-sessions-per-user", "2"});
  cookie_jar jars[3];
  for (auto& jar : jars) {
    ASSERT_EQ(login(jar, "carol").body, "logged in as carol");
    std::this_thread::sleep_for(5ms);  // distinct login times
  }
  EXPECT_EQ(whoami(jars[0]), "401");  // the oldest went
  EXPECT_EQ(whoami(jars[1]), "carol");
  EXPECT_EQ(whoami(jars[2]), "carol");
  EXPECT_EQ(my_sessions(jars[2]).size(), 2u);
  if (auto ids = indexed("carol")) {
    EXPECT_EQ(ids->size(), 2u);
  }
}

TEST_P(user_sessions, logout_and_expiry_leave_no_dead_ids_in_the_index) {
  // Redis keeps an index entry a tenth of the idle timeout (or a minute) past its session's
  // expiry (the writes between refreshes skip the index): a short idle timeout keeps it short.
  start({"--max-age", "1500", "--idle-timeout", "1200"});
  cookie_jar a, b;
  ASSERT_EQ(login(a, "dave").body, "logged in as dave");
  ASSERT_EQ(login(b, "dave").body, "logged in as dave");
  const std::string b_id = b.session_id();
  const response out = post(next_port(), "/logout", "", with_form(a));
  EXPECT_EQ(out.body, "logged out") << describe(out);
  EXPECT_EQ(whoami(a), "401");
  if (auto ids = indexed("dave")) {
    EXPECT_EQ(*ids, std::vector<std::string>{b_id});
  }
  std::this_thread::sleep_for(3000ms);  // b's cookie (and record) expire, and its index entry
  EXPECT_EQ(whoami(b), "401");
  if (auto ids = indexed("dave")) {
    EXPECT_TRUE(ids->empty()) << "an expired id left in the index";
  }
  if (redis_) {
    EXPECT_EQ(redis_->command({"EXISTS", "sessionkit-user:dave"}).integer, 0);
  }
  // A new login of the same user starts a fresh list.
  cookie_jar c;
  ASSERT_EQ(login(c, "dave").body, "logged in as dave");
  EXPECT_EQ(my_sessions(c).size(), 1u);
}

TEST_P(user_sessions, bad_logins_and_routes_that_need_one) {
  start();
  cookie_jar jar;
  EXPECT_EQ(post(next_port(), "/login", "name=x", with_form(jar)).status, 400u);
  EXPECT_EQ(post(next_port(), "/login", "user=", with_form(jar)).status, 400u);
  EXPECT_EQ(post(next_port(), "/login", "user=" + std::string(101, 'x'), with_form(jar)).status, 400u);
  EXPECT_EQ(get(next_port(), "/my-sessions").status, 401u);
  EXPECT_EQ(post(next_port(), "/logout-everywhere", "", form).status, 401u);
  // A name that needs decoding, and is shown back as sent.
  ASSERT_EQ(login(jar, "%ED%95%9C+%26x").body, "logged in as 한 &x");
  EXPECT_EQ(whoami(jar), "한 &x");
}

// Rotation (item 2): an id older than --renew-interval is replaced on the next request (data and
// user kept, a new cookie); the old id still works within --renew-grace, on either server, and
// not after (Redis rounds the grace up to whole seconds, as every TTL). With locks too.
TEST_P(user_sessions, rotation_changes_the_id_keeps_the_user_and_the_old_id_works_only_within_the_grace) {
  for (const bool locks : {false, true}) {
    SCOPED_TRACE(locks ? "lock" : "none");
    stop();
    start({"--renew-interval", "700", "--renew-grace", "1500", "--concurrency", locks ? "lock" : "none"});
    const std::string user = locks ? "rosa" : "rita";  // the store outlives the servers
    cookie_jar jar;
    ASSERT_EQ(login(jar, user).body, "logged in as " + user);
    const cookie_jar old = jar;
    const std::string first_id = jar.session_id();
    EXPECT_EQ(whoami(jar), user);  // young: no new id
    EXPECT_EQ(jar.session_id(), first_id);
    std::this_thread::sleep_for(800ms);
    const response renewed = get(next_port(), "/whoami", jar.headers());
    EXPECT_EQ(renewed.body, user) << describe(renewed);
    jar.store(renewed);
    const std::string new_id = jar.session_id();
    EXPECT_NE(new_id, first_id) << "the id was not renewed";
    // The old id, within the grace, on every server: the renewed session, and its new cookie.
    for (auto port : ports_) {
      const response late = get(port, "/whoami", old.headers());
      EXPECT_EQ(late.body, user) << describe(late);
      cookie_jar told = old;
      told.store(late);
      EXPECT_EQ(told.session_id(), new_id);
    }
    EXPECT_EQ(my_sessions(jar).size(), 1u) << "the old id is not one of the user's sessions";
    std::this_thread::sleep_for(2600ms);  // Redis keeps TTLs in whole seconds: 1.5 s is 2 s there
    EXPECT_EQ(whoami(old), "401") << "the old id outlived its grace";
    EXPECT_EQ(get(next_port(), "/whoami", jar.headers()).body, user);
  }
}

// Hashed ids at rest (item 7): nothing in Redis or in the SQLite file (keys, values, the user
// index) contains a live id, while logins, the list, rotation and log out everywhere work.
TEST_P(user_sessions, with_hashed_ids_no_live_id_is_in_the_store) {
  start({"--hash-ids", "--renew-interval", "600", "--renew-grace", "5000"});
  cookie_jar jars[2];
  for (auto& jar : jars) ASSERT_EQ(login(jar, "hugo").body, "logged in as hugo");
  std::vector<std::string> live{jars[0].session_id(), jars[1].session_id()};
  std::this_thread::sleep_for(700ms);
  const response renewed = get(next_port(), "/memory-store-counter", jars[0].headers());
  EXPECT_EQ(renewed.body, "count is 1") << describe(renewed);
  jars[0].store(renewed);
  ASSERT_NE(jars[0].session_id(), live[0]) << "not renewed";
  live.push_back(jars[0].session_id());  // and live[0] lives on for the grace
  EXPECT_EQ(whoami(jars[1]), "hugo");
  const auto listed = my_sessions(jars[0]);
  EXPECT_EQ(listed.size(), 2u);
  int current = 0;
  for (const auto& l : listed) current += l.at("current").as_bool();
  EXPECT_EQ(current, 1);

  std::vector<std::string> stored;  // every key and value the store holds
  if (redis_) {
    for (const auto& key : redis_->command({"KEYS", "*"}).elements) {
      stored.push_back(key.text);
      const auto type = redis_->command({"TYPE", key.text}).text;
      if (type == "string") stored.push_back(redis_->get(key.text).value_or(""));
      if (type == "zset")
        for (const auto& m : redis_->command({"ZRANGE", key.text, "0", "-1"}).elements) stored.push_back(m.text);
    }
  } else if (!db_.empty()) {
    for (auto& row : sqlite_rows("SELECT id, record, coalesce(user, '') FROM sessions"))
      for (auto& column : row) stored.push_back(std::move(column));
  }
  if (GetParam() != "memory") {
    EXPECT_GE(stored.size(), 3u);
  }
  for (const auto& text : stored)
    for (const auto& id : live) EXPECT_EQ(text.find(id), std::string::npos) << "a live id in the store: " << text;

  EXPECT_EQ(whoami(cookie_jar{jars[0]}), "hugo");
  const response ended = post(next_port(), "/logout-everywhere", "", with_form(jars[1]));
  EXPECT_EQ(ended.body, "2 sessions ended") << describe(ended);
  for (auto& jar : jars) EXPECT_EQ(whoami(jar), "401");
}

INSTANTIATE_TEST_SUITE_P(stores, user_sessions, ::testing::Values("memory", "redis", "sqlite"),
                         [](const auto& info) { return info.param; });

// Every example server has the account routes and renews ids, and logging out everywhere fires
// one destroyed event per other session with its reason.
class user_sessions_frameworks : public ::testing::TestWithParam<example_binary> {};

TEST_P(user_sessions_frameworks, login_list_and_log_out_everywhere) {
  child_process server(GetParam().path, {"--port", "0", "--log-events", "--max-sessions-per-user", "5"});
  const auto port = server.wait_for_listening().port;
  cookie_jar jars[2];
  for (auto& jar : jars) {
    const response r = post(port, "/login", "user=erin", with_form(jar));
    ASSERT_EQ(r.body, "logged in as erin") << describe(r) << server.stderr_text();
    jar.store(r);
  }
  response who = get(port, "/whoami", jars[0].headers());
  EXPECT_EQ(who.body, "erin") << describe(who);
  response listed = get(port, "/my-sessions", jars[0].headers());
  EXPECT_EQ(boost::json::parse(listed.body).as_array().size(), 2u) << describe(listed);
  response ended = post(port, "/logout-everywhere", "", with_form(jars[0]));
  EXPECT_EQ(ended.body, "2 sessions ended") << describe(ended);
  EXPECT_EQ(get(port, "/whoami", jars[1].headers()).status, 401u);
  EXPECT_TRUE(server.wait_for_stderr("user=erin reason=logout everywhere")) << server.stderr_text();
  EXPECT_TRUE(server.wait_for_stderr("user=erin reason=destroy")) << server.stderr_text();
}

TEST_P(user_sessions_frameworks, an_old_id_is_renewed) {
  child_process server(GetParam().path, {"--port", "0", "--renew-interval", "300", "--log-events"});
  const auto port = server.wait_for_listening().port;
  cookie_jar jar;
  jar.store(post(port, "/login", "user=otto", with_form(jar)));
  const std::string first = jar.session_id();
  std::this_thread::sleep_for(400ms);
  const response r = get(port, "/whoami", jar.headers());
  EXPECT_EQ(r.body, "otto") << describe(r);
  jar.store(r);
  EXPECT_NE(jar.session_id(), first);
  EXPECT_TRUE(server.wait_for_stderr("session event: renewed id=")) << server.stderr_text();
  EXPECT_TRUE(server.wait_for_stderr("user=otto reason=renew")) << server.stderr_text();
}

INSTANTIATE_TEST_SUITE_P(frameworks, user_sessions_frameworks, ::testing::ValuesIn(example_binaries()),
                         [](const auto& info) { return info.param.framework; });

}  // namespace
}  // namespace sessionkit::test
