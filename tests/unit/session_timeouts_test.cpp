// Issue 16, item 1: idle and absolute timeouts, decided from the times kept in the record
// (`_sessionkit_created`, `_sessionkit_seen`), on load. Times are set in the stored records directly, so no
// test sleeps.

#include "engine_harness.hpp"

#include <sessionkit/json.hpp>
#include <sessionkit/time.hpp>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

std::int64_t ms(timestamp t) { return t.time_since_epoch().count(); }

// The times of a stored record, as {"created", "seen"}.
boost::json::object times_of(const session_record& r) {
  std::error_code ec;
  const auto v = parse_json(r.json, ec);
  EXPECT_FALSE(ec);
  boost::json::object t;
  const auto& data = v->get_object();
  if (const auto* c = data.if_contains("_sessionkit_created")) t["created"] = *c;
  if (const auto* s = data.if_contains("_sessionkit_seen")) t["seen"] = *s;
  return t;
}

// Rewrites a stored record's times (as if it were created or last seen that long ago).
void set_times(session_record& r, std::optional<std::int64_t> created, std::optional<std::int64_t> seen) {
  std::error_code ec;
  auto v = parse_json(r.json, ec);
  auto& data = v->get_object();
  if (created) data["_sessionkit_created"] = *created;
  if (seen) data["_sessionkit_seen"] = *seen;
  r.json = stringify(*v);
}

class session_timeouts_unit : public ::testing::TestWithParam<bool> {};  // answered at once or later

TEST_P(session_timeouts_unit, a_new_session_keeps_when_it_was_created_and_seen) {
  options o = test_options();
  o.idle_timeout = 30min;
  o.absolute_timeout = 8h;
  o.cookie.max_age = 24h;
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  const auto before = ms(now());
  const auto first = counting_request(h, "");
  const session_record& stored = h.store->records.at(first.id);
  const auto t = times_of(stored);
  EXPECT_GE(t.at("created").as_int64(), before);
  EXPECT_EQ(t.at("created"), t.at("seen"));
  // The store may drop it when the idle timeout would end it (sooner than the cookie).
  ASSERT_TRUE(stored.expires);
  EXPECT_EQ(ms(*stored.expires), t.at("seen").as_int64() + 30 * 60 * 1000);
}

TEST_P(session_timeouts_unit, past_the_absolute_timeout_the_record_is_destroyed_and_a_new_session_starts) {
  options o = test_options();
  o.absolute_timeout = 1h;
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  const auto first = counting_request(h, "");
  const auto t = ms(now());
  set_times(h.store->records.at(first.id), t - 3600 * 1000 - 1, t);  // seen just now: still ended
  const auto second = counting_request(h, first.cookie_header());
  EXPECT_NE(second.id, first.id);
  EXPECT_EQ(h.store->records.count(first.id), 0u) << "the timed-out record is destroyed";
  ASSERT_TRUE(h.store->records.count(second.id));
  EXPECT_NE(h.store->records.at(second.id).json.find("\"count\":1"), std::string::npos);
  EXPECT_EQ(h.id_in(second.set_cookie), second.id);
}

TEST_P(session_timeouts_unit, past_the_idle_timeout_likewise_and_within_it_the_session_goes_on) {
  options o = test_options();
  o.idle_timeout = 10min;
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  const auto first = counting_request(h, "");
  const auto t = ms(now());
  set_times(h.store->records.at(first.id), t - 86400 * 1000, t - 9 * 60 * 1000);  // idle 9 min: fine
  const auto second = counting_request(h, first.cookie_header());
  EXPECT_EQ(second.id, first.id);
  EXPECT_NE(h.store->records.at(first.id).json.find("\"count\":2"), std::string::npos);
  EXPECT_GE(times_of(h.store->records.at(first.id)).at("seen").as_int64(), t);  // seen again
  set_times(h.store->records.at(first.id), t, t - 10 * 60 * 1000 - 1);  // idle 10 min and 1 ms
  const auto third = counting_request(h, first.cookie_header());
  EXPECT_NE(third.id, first.id);
  EXPECT_EQ(h.store->records.count(first.id), 0u);
}

TEST_P(session_timeouts_unit, a_read_rewrites_seen_only_when_a_tenth_of_the_idle_timeout_old) {
  options o = test_options();
  o.idle_timeout = 10min;
  o.resave = false;
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  const auto first = counting_request(h, "");
  const auto t = ms(now());
  set_times(h.store->records.at(first.id), t, t - 30 * 1000);  // seen 30 s ago: fresh enough
  h.store->calls.clear();
  h.request(first.cookie_header());  // reads nothing, changes nothing
  EXPECT_EQ(h.store->calls, (std::vector<std::string>{"get " + first.id, "touch " + first.id}));
  set_times(h.store->records.at(first.id), t, t - 61 * 1000);  // over a minute: rewritten
  h.store->calls.clear();
  h.request(first.cookie_header());
  EXPECT_EQ(h.store->calls, (std::vector<std::string>{"get " + first.id, "set " + first.id}));
  EXPECT_GE(times_of(h.store->records.at(first.id)).at("seen").as_int64(), t);
}

TEST_P(session_timeouts_unit, a_record_without_times_is_stamped_not_ended) {
  options o = test_options();
  o.idle_timeout = 1min;
  o.absolute_timeout = 1h;
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  // Written by express-session (or before the option): no times.
  h.store->records["legacy"] = {R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":7})",
                                std::nullopt};
  const std::string cookie = "connect.sid=" + encode_uri_component("s:" + h.eng.cookie_signer().sign("legacy"));
  const auto r = counting_request(h, cookie);
  EXPECT_EQ(r.id, "legacy");
  const auto t = times_of(h.store->records.at("legacy"));
  EXPECT_TRUE(t.contains("created"));
  EXPECT_NE(h.store->records.at("legacy").json.find("\"count\":8"), std::string::npos);
}

TEST_P(session_timeouts_unit, regenerate_starts_the_clock_again) {
  options o = test_options();
  o.absolute_timeout = 1h;
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  const auto first = counting_request(h, "");
  const auto t = ms(now());
  set_times(h.store->records.at(first.id), t - 30 * 60 * 1000, t);
  const auto regenerated = h.request(first.cookie_header(), [&](request_driver& ctx) {
    ctx.current()->regenerate([](std::error_code) {});
    h.store->drain();
  });
  ASSERT_NE(regenerated.id, first.id);
  EXPECT_GE(times_of(h.store->records.at(regenerated.id)).at("created").as_int64(), t);
}

INSTANTIATE_TEST_SUITE_P(answers, session_timeouts_unit, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "at_once" : "later"; });

TEST(session_timeouts_options, must_be_positive) {
  for (auto bad : {std::chrono::milliseconds(0), std::chrono::milliseconds(-5)}) {
    options o = test_options();
    o.idle_timeout = bad;
    EXPECT_THROW(engine{o}, std::invalid_argument);
    o.idle_timeout.reset();
    o.absolute_timeout = bad;
    EXPECT_THROW(engine{o}, std::invalid_argument);
  }
}

}  // namespace
}  // namespace sessionkit::test
