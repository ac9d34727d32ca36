// The engine's behaviour beyond the decision table: cookie reading, records, options, methods.

#include "engine_harness.hpp"

#include <sessionkit/json.hpp>
#include <sessionkit/id.hpp>
#include <sessionkit/log.hpp>
#include <sessionkit/signer.hpp>

#include <mutex>
#include <tuple>

namespace sessionkit::test {
namespace {

TEST(engine, new_session_cookie_is_signed_with_the_first_secret) {
  options o = test_options();
  o.secrets = {"first", "second"};
  o.genid = [](const genid_context&) { return std::string("apple"); };
  engine_harness h(o);
  auto r = h.request("");
  ASSERT_TRUE(r.set_cookie);
  EXPECT_EQ(*r.set_cookie, "connect.sid=" + encode_uri_component("s:" + sign("apple", "first")) + "; Path=/; HttpOnly");
}

TEST(engine, genid_vectors_from_express_session) {
  for (auto [id, value] : {std::pair{"apple", "s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU"},
                           std::pair{"%", "s%3A%25.kzQ6x52kKVdF35Qh62AWk4ZekS28K5XYCXKa%2FOTZ01g"},
                           std::pair{"/foo", "s%3A%2Ffoo.paEKBtAHbV5s1IB8B2zPnzAgYmmnRPIqObW4VRYj%2FMQ"}}) {
    options o = test_options();
    o.genid = [id = std::string(id)](const genid_context&) { return id; };
    engine_harness h(o);
    auto r = h.request("");
    ASSERT_TRUE(r.set_cookie);
    EXPECT_EQ(*r.set_cookie, std::string("connect.sid=") + value + "; Path=/; HttpOnly");
  }
}

TEST(engine, genid_receives_the_request_path) {
  options o = test_options();
  o.genid = [](const genid_context& c) { return std::string(c.path); };
  engine_harness h(o);
  auto r = h.request("", {}, "/foo");
  EXPECT_EQ(h.id_in(r.set_cookie), "/foo");
}

TEST(engine, counts_across_requests_and_stores_node_shaped_records) {
  engine_harness h(test_options());
  auto r1 = counting_request(h, "");
  ASSERT_TRUE(r1.set_cookie);
  EXPECT_EQ(h.store->records.at(r1.id).json,
            R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":1})");
  auto r2 = counting_request(h, r1.cookie_header());
  EXPECT_EQ(r2.id, r1.id);
  EXPECT_EQ(h.store->records.at(r1.id).json,
            R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":2})");
}

TEST(engine, bad_cookies_make_a_new_session_without_asking_the_store) {
  engine_harness h(test_options());
  auto good = counting_request(h, "");
  const std::string value = good.cookie_header().substr(std::string("connect.sid=").size());
  const std::string tampered = value.substr(0, value.size() - 1) + (value.back() == 'A' ? "B" : "A");
  for (const std::string& header : std::vector<std::string>{
       "connect.sid=" + tampered, "connect.sid=" + good.id, "connect.sid=s%3A" + good.id,
        "connect.sid=" + value.substr(0, value.size() - 5), "connect.sid=s%3A%ZZ", "connect.sid=",
        "connect.sid=" + value + "%3D", "connect.sid=garbage; " + good.cookie_header(),
        "connect.sid=" + encode_uri_component("s:" + sign(good.id, "other secret"))}) {
    SCOPED_TRACE(header);
    h.store->calls.clear();
    auto r = counting_request(h, header);
    EXPECT_TRUE(std::none_of(h.store->calls.begin(), h.store->calls.end(),
                             [](const std::string& c) { return c.rfind("get ", 0) == 0; }));
    EXPECT_NE(r.id, good.id);
    EXPECT_EQ(h.store->records.at(r.id).json.find("\"count\":1}") != std::string::npos, true);
  }
  // The valid cookie first: the session continues.
  auto r = counting_request(h, good.cookie_header() + "; connect.sid=garbage");
  EXPECT_EQ(r.id, good.id);
}

TEST(engine, unknown_id_gets_a_fresh_id_never_the_cookies) {
  engine_harness h(test_options());
  const std::string forged = "connect.sid=" + encode_uri_component("s:" + sign("not-in-store", "keyboard cat"));
  auto r = counting_request(h, forged);
  EXPECT_EQ(h.store->calls.front(), "get not-in-store");
  EXPECT_NE(r.id, "not-in-store");
  EXPECT_EQ(h.id_in(r.set_cookie), r.id);
}

TEST(engine, rotation_verifies_with_any_secret_and_resigns_with_the_first) {
  options o = test_options();
  o.secrets = {"old"};
  o.cookie.max_age = std::chrono::milliseconds(60000);
  engine_harness old_server(o);
  auto r1 = counting_request(old_server, "");
  o.secrets = {"new", "old"};
  engine_harness new_server(o);
  new_server.store->records = old_server.store->records;  // a shared store
  auto r2 = counting_request(new_server, r1.cookie_header());
  EXPECT_EQ(r2.id, r1.id);
  ASSERT_TRUE(r2.set_cookie);  // modified with a max age: re-sent, signed with "new"
  EXPECT_NE(r2.set_cookie->find(encode_uri_component("s:" + sign(r1.id, "new"))), std::string::npos);
  o.secrets = {"other"};
  engine_harness stranger(o);
  stranger.store->records = old_server.store->records;
  EXPECT_NE(counting_request(stranger, r1.cookie_header()).id, r1.id);
}

TEST(engine, max_age_sets_expires_in_cookie_and_record_alike) {
  options o = test_options();
  o.cookie.max_age = std::chrono::milliseconds(2000);
  engine_harness h(o);
  const timestamp before = now();
  auto r = counting_request(h, "");
  const timestamp after = now();
  const auto& record = h.store->records.at(r.id);
  ASSERT_TRUE(record.expires);
  EXPECT_GE(*record.expires, before + std::chrono::milliseconds(2000));
  EXPECT_LE(*record.expires, after + std::chrono::milliseconds(2000));
  EXPECT_NE(r.set_cookie->find("; Expires=" + format_http_date(*record.expires) + "; HttpOnly"), std::string::npos);
  EXPECT_NE(record.json.find("\"originalMaxAge\":2000,\"expires\":\"" + format_iso_date(*record.expires) + "\""),
            std::string::npos);
}

TEST(engine, secure_cookie_is_not_sent_over_http_but_the_session_is_saved) {
  options o = test_options();
  o.cookie.secure = secure_policy::on;
  engine_harness h(o);
  auto r = counting_request(h, "");
  EXPECT_FALSE(r.set_cookie);
  EXPECT_EQ(h.store->records.count(r.id), 1u);
  auto tls = h.request("", {}, "/", true);
  ASSERT_TRUE(tls.set_cookie);
  EXPECT_NE(tls.set_cookie->find("; HttpOnly; Secure"), std::string::npos);
}

TEST(engine, proxy_true_trusts_the_first_forwarded_proto) {
  options o = test_options();
  o.cookie.secure = secure_policy::on;
  o.proxy = true;
  engine_harness h(o);
  EXPECT_TRUE(h.request("", {}, "/", false, "https").set_cookie);
  EXPECT_TRUE(h.request("", {}, "/", false, " HTTPS , http").set_cookie);
  EXPECT_FALSE(h.request("", {}, "/", false, "http, https").set_cookie);
  EXPECT_FALSE(h.request("", {}, "/", false, "").set_cookie);
  o.proxy = false;
  engine_harness untrusting(o);
  EXPECT_FALSE(untrusting.request("", {}, "/", false, "https").set_cookie);
}

TEST(engine, secure_auto_is_resolved_per_new_session_and_stored) {
  options o = test_options();
  o.cookie.secure = secure_policy::automatic;
  o.proxy = true;
  engine_harness h(o);
  auto insecure = h.request("");
  ASSERT_TRUE(insecure.set_cookie);
  EXPECT_EQ(insecure.set_cookie->find("Secure"), std::string::npos);
  EXPECT_NE(h.store->records.at(insecure.id).json.find("\"secure\":false"), std::string::npos);
  auto secure = h.request("", {}, "/", false, "https");
  ASSERT_TRUE(secure.set_cookie);
  EXPECT_NE(secure.set_cookie->find("; Secure"), std::string::npos);
  EXPECT_NE(h.store->records.at(secure.id).json.find("\"secure\":true"), std::string::npos);
}

TEST(engine, path_outside_cookie_path_gets_no_session) {
  options o = test_options();
  o.cookie.path = "/admin";
  engine_harness h(o);
  EXPECT_FALSE(h.request("", {}, "/").set_cookie);
  EXPECT_TRUE(h.store->records.empty());
  auto r = h.request("", {}, "/adminx");  // a plain prefix test, as in express-session
  ASSERT_TRUE(r.set_cookie);
  EXPECT_NE(r.set_cookie->find("; Path=/admin;"), std::string::npos);
}

TEST(engine, manual_save_suppresses_the_end_of_request_save) {
  // resave true; like express-session the end of the request then only touches.
  engine_harness h(test_options());
  auto first = counting_request(h, "");
  h.store->calls.clear();
  h.request(first.cookie_header(), [&](request_driver& ctx) {
    (*ctx.current())["saved"] = true;
    ctx.current()->save([](std::error_code) {});
  });
  EXPECT_EQ(h.store->calls,
            (std::vector<std::string>{"get " + first.id, "set " + first.id, "touch " + first.id}));
}

TEST(engine, touch_extends_expiry_without_rewriting_data) {
  options o = test_options();
  o.resave = false;
  o.cookie.max_age = std::chrono::milliseconds(60000);
  engine_harness h(o);
  auto first = counting_request(h, "");
  const auto expires_before = *h.store->records.at(first.id).expires;
  h.store->records.at(first.id).expires = expires_before - std::chrono::milliseconds(5000);
  h.store->calls.clear();
  h.request(first.cookie_header());
  EXPECT_EQ(h.store->calls.back(), "touch " + first.id);
  EXPECT_GE(*h.store->records.at(first.id).expires, expires_before);
}

TEST(engine, reload_picks_up_concurrent_changes_and_missing_records_fail) {
  engine_harness h(test_options());
  auto first = counting_request(h, "");
  std::error_code reload_ec;
  h.request(first.cookie_header(), [&](request_driver& ctx) {
    h.store->records.at(first.id).json =
        R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":41})";
    ctx.current()->reload([&](std::error_code ec) { reload_ec = ec; });
    h.store->drain();
    EXPECT_EQ((*ctx.current())["count"], 41);
  });
  EXPECT_FALSE(reload_ec);
  h.request(first.cookie_header(), [&](request_driver& ctx) {
    h.store->records.clear();
    ctx.current()->reload([&](std::error_code ec) { reload_ec = ec; });
  });
  EXPECT_EQ(reload_ec, error::failed_to_load_session);
}

TEST(engine, invalid_records_are_treated_as_no_session) {
  engine_harness h(test_options());
  for (const char* bad : {"not json", "[1,2]", "42", "null", R"({"count":1})", R"({"cookie":5})",
                          R"({"cookie":{"expires":"not a date"}})", R"({"cookie":{"httpOnly":"yes"}})", ""}) {
    SCOPED_TRACE(bad);
    auto first = counting_request(h, "");
    h.store->records.at(first.id).json = bad;
    auto r = counting_request(h, first.cookie_header());
    EXPECT_FALSE(r.load_error);
    EXPECT_NE(r.id, first.id);
    EXPECT_TRUE(r.set_cookie);
  }
}

TEST(engine, revives_records_written_by_node) {
  engine_harness h(test_options());
  auto first = counting_request(h, "");
  // Written by express-session: sameSite as true, priority in its own case, no httpOnly key,
  // a reserved key that express-session drops.
  h.store->records.at(first.id).json =
      R"({"cookie":{"originalMaxAge":60000,"priority":"High","expires":"2099-01-01T00:00:00.000Z","secure":false,"path":"/","sameSite":true},"id":"x","count":7,"nested":{"cookie":1}})";
  auto r = h.request(first.cookie_header(), [](request_driver& ctx) {
    auto& s = *ctx.current();
    EXPECT_EQ(s["count"], 7);
    EXPECT_EQ(s.data().if_contains("id"), nullptr);
    EXPECT_TRUE(s.cookie().http_only);
    s["count"] = 8;
  });
  EXPECT_EQ(r.id, first.id);
  const std::string json = h.store->records.at(first.id).json;
  EXPECT_EQ(json.substr(0, 60), R"({"cookie":{"originalMaxAge":60000,"priority":"High","expires)");
  EXPECT_NE(json.find(R"("secure":false,"httpOnly":true,"path":"/","sameSite":true},"count":8,"nested":{"cookie":1}})"),
            std::string::npos);
  ASSERT_TRUE(r.set_cookie);  // modified and has an expiry
  EXPECT_NE(r.set_cookie->find("; HttpOnly; Priority=High; SameSite=Strict"), std::string::npos);
}

TEST(engine, nested_cookie_key_counts_as_data) {
  options o = test_options();
  o.resave = false;
  engine_harness h(o);
  auto first = counting_request(h, "");
  h.store->calls.clear();
  h.request(first.cookie_header(), [](request_driver& ctx) { (*ctx.current())["obj"] = {{"cookie", 1}}; });
  EXPECT_EQ(h.store->calls.back(), "set " + first.id);
}

TEST(engine, store_errors_fail_the_request_and_withhold_the_cookie) {
  engine_harness h(test_options());
  auto first = counting_request(h, "");
  h.store->fail_with = error::store_unavailable;
  auto load_failed = counting_request(h, first.cookie_header());
  EXPECT_EQ(load_failed.load_error, error::store_unavailable);
  auto save_failed = counting_request(h, "");
  EXPECT_EQ(save_failed.end_error, error::store_unavailable);
  EXPECT_FALSE(save_failed.set_cookie);
  h.store->fail_with = {};
  EXPECT_EQ(h.store->records.at(first.id).json.find("\"count\":1}") != std::string::npos, true);
}

TEST(engine, oversized_sessions_are_refused_and_not_stored) {
  options o = test_options();
  o.max_session_bytes = 200;
  engine_harness h(o);
  auto r = h.request("", [](request_driver& ctx) { (*ctx.current())["big"] = std::string(500, 'x'); });
  EXPECT_EQ(r.end_error, error::session_too_large);
  EXPECT_FALSE(r.set_cookie);
  EXPECT_TRUE(h.store->records.empty());
}

TEST(engine, invalid_configuration_throws) {
  auto store = std::make_shared<recording_store>();
  options o = test_options();
  o.secrets.clear();
  EXPECT_THROW(engine(o, store), std::invalid_argument);
  o = test_options();
  o.name = "bad name";
  EXPECT_THROW(engine(o, store), std::invalid_argument);
  o = test_options();
  o.cookie.domain = "bad domain";
  EXPECT_THROW(engine(o, store), std::invalid_argument);
  o = test_options();
  o.cookie.same_site = std::string("sideways");
  EXPECT_THROW(engine(o, store), std::invalid_argument);
  o = test_options();
  EXPECT_THROW(engine(o, nullptr), std::invalid_argument);
}

TEST(engine, cookie_attributes_follow_the_options) {
  options o = test_options();
  o.cookie.domain = "example.com";
  o.cookie.http_only = false;
  o.cookie.partitioned = true;
  o.cookie.priority = "high";
  o.cookie.same_site = std::string("lax");
  o.cookie.secure = secure_policy::on;
  engine_harness h(o);
  auto r = h.request("", {}, "/", true);
  ASSERT_TRUE(r.set_cookie);
  EXPECT_NE(r.set_cookie->find("; Domain=example.com; Path=/; Secure; Partitioned; Priority=High; SameSite=Lax"),
            std::string::npos);
  EXPECT_NE(h.store->records.at(r.id).json.find(
                R"({"cookie":{"originalMaxAge":null,"partitioned":true,"priority":"high","expires":null,"secure":true,"httpOnly":false,"domain":"example.com","path":"/","sameSite":"lax"}})"),
            std::string::npos);
}

TEST(engine, store_not_ready_is_unavailable) {
  struct down final : store {
    void get(std::string_view, get_handler) override {}
    void set(std::string_view, session_record, completion_handler) override {}
    void destroy(std::string_view, completion_handler) override {}
    bool ready() const noexcept override { return false; }
    void defer(detail::unique_function<void()> fn) override { fn(); }
  };
  engine e(test_options(), std::make_shared<down>());
  request_info info;
  info.path = "/";
  EXPECT_EQ(e.begin(info)->first_step(), request_driver::step::unavailable);
}

}  // namespace
}  // namespace sessionkit::test

namespace sessionkit::test {
namespace {

// Captures log lines for the duration of a test.
class log_capture {
 public:
  log_capture() {
    set_log_sink([this](log_level, std::string_view m) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(m);
    });
  }
  ~log_capture() { set_log_sink([](log_level, std::string_view) {}); }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

TEST(engine_security, warns_about_short_secrets) {
  log_capture logs;
  engine e(test_options(), std::make_shared<recording_store>());  // "keyboard cat": 12 bytes
  ASSERT_EQ(logs.lines().size(), 1u);
  EXPECT_NE(logs.lines()[0].find("12 bytes"), std::string::npos);
  options o = test_options();
  o.secrets = {std::string(32, 'k')};
  log_capture quiet;
  engine fine(o, std::make_shared<recording_store>());
  EXPECT_TRUE(quiet.lines().empty());
}

TEST(engine_security, logs_never_carry_a_full_session_id) {
  options o = test_options();
  o.max_session_bytes = 100;
  engine_harness h(o);
  log_capture logs;
  auto first = counting_request(h, "");
  h.store->records.at(first.id).json = "not a session";
  auto second = counting_request(h, first.cookie_header());  // invalid record: logged
  h.request("", [](request_driver& ctx) { (*ctx.current())["big"] = std::string(200, 'x'); });  // too large: logged
  const auto lines = logs.lines();
  ASSERT_GE(lines.size(), 2u);
  for (const auto& line : lines) {
    EXPECT_EQ(line.find(first.id), std::string::npos) << line;
    EXPECT_EQ(line.find(second.id), std::string::npos) << line;
  }
  EXPECT_NE(lines[0].find(redact_id(first.id)), std::string::npos) << lines[0];  // a prefix only
}

TEST(engine_security, regenerate_on_login_prevents_fixation) {
  options o = test_options();
  o.resave = false;
  engine_harness h(o);
  // An attacker plants a session id in the victim's browser...
  auto planted = counting_request(h, "");
  // ...the victim logs in with it; the login handler regenerates before storing the user.
  auto login = h.request(planted.cookie_header(), [&](request_driver& ctx) {
    ctx.current()->regenerate([](std::error_code) {});
    h.store->drain();
    (*ctx.current())["user"] = "victim";
  });
  ASSERT_TRUE(login.set_cookie);
  EXPECT_NE(login.id, planted.id);
  EXPECT_EQ(h.store->records.count(planted.id), 0u);  // the planted id is worthless now
  EXPECT_NE(h.store->records.at(login.id).json.find("\"user\":\"victim\""), std::string::npos);
}

}  // namespace
}  // namespace sessionkit::test

namespace sessionkit::test {
namespace {

// The engine compares a record's cookie with the last one it read on the thread; records that
// share the shape must still be read with their own expiry and data, and others fully.
TEST(engine, records_sharing_a_cookie_shape_are_each_read_with_their_own_values) {
  options o = test_options();
  o.resave = false;  // reading leaves the stored text as it is (the recording store's touch)
  engine_harness h(o);
  const std::string id_a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", id_b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                    id_c = "cccccccccccccccccccccccccccccccc", id_d = "dddddddddddddddddddddddddddddddd";
  auto cookie_for = [](const std::string& id) { return "connect.sid=" + encode_uri_component("s:" + sign(id, "keyboard cat")); };
  h.store->records[id_a].json =
      R"({"cookie":{"originalMaxAge":1000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"n":1})";
  h.store->records[id_b].json =
      R"({"cookie":{"originalMaxAge":1000,"expires":"2098-05-06T07:08:09.010Z","httpOnly":true,"path":"/"},"n":2})";
  h.store->records[id_c].json =
      R"({"cookie":{"originalMaxAge":1000,"expires":"2098-05-06T07:08:09.010Z","httpOnly":false,"path":"/"},"n":3})";
  // Same shape, but what stands where the expiry was is no date: the record is invalid.
  h.store->records[id_d].json =
      R"({"cookie":{"originalMaxAge":1000,"expires":"this is not a date here","httpOnly":false,"path":"/"},"n":4})";
  auto read = [&](const std::string& id) {
    std::string expires, n;
    bool http_only = false;
    h.request(cookie_for(id), [&](request_driver& ctx) {
      const session& s = *ctx.current();
      if (s.cookie().expires) expires = format_iso_date(*s.cookie().expires);
      http_only = s.cookie().http_only;
      n = s.id() == id ? stringify(*s.find("n")) : "new session";
    });
    return std::tuple(expires, http_only, n);
  };
  EXPECT_EQ(read(id_a), std::tuple(std::string("2099-01-01T00:00:00.000Z"), true, std::string("1")));
  EXPECT_EQ(read(id_b), std::tuple(std::string("2098-05-06T07:08:09.010Z"), true, std::string("2")));
  EXPECT_EQ(read(id_c), std::tuple(std::string("2098-05-06T07:08:09.010Z"), false, std::string("3")));
  EXPECT_EQ(std::get<2>(read(id_d)), "new session");
  EXPECT_EQ(read(id_a), std::tuple(std::string("2099-01-01T00:00:00.000Z"), true, std::string("1")));
}

TEST(engine, out_of_range_numbers_in_a_stored_cookie_are_an_invalid_record) {
  engine_harness h(test_options());
  for (const char* bad : {R"({"cookie":{"originalMaxAge":1e300,"expires":null}})",
                          R"({"cookie":{"originalMaxAge":9223372036854775807,"expires":null}})",
                          R"({"cookie":{"originalMaxAge":null,"expires":-9e18}})"}) {
    SCOPED_TRACE(bad);
    auto first = counting_request(h, "");
    h.store->records.at(first.id).json = bad;
    auto r = counting_request(h, first.cookie_header());
    EXPECT_NE(r.id, first.id);  // a new session, no overflow
  }
}

}  // namespace
}  // namespace sessionkit::test
