// Issue 16, item 2: rotation. `renew()` gives the session a new id and keeps its data; the old
// id's record forwards to the new one for `renew_grace` (a request still carrying it is served
// the renewed session and gets its cookie), and `renew_interval` renews an id that old by
// itself. Times are set in the stored records directly, so no test sleeps.

#include "engine_harness.hpp"

#include <sessionkit/json.hpp>
#include <sessionkit/session.hpp>
#include <sessionkit/time.hpp>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

std::int64_t ms(timestamp t) { return t.time_since_epoch().count(); }

boost::json::object data_of(const session_record& r) {
  std::error_code ec;
  auto v = parse_json(r.json, ec);
  EXPECT_FALSE(ec);
  return v ? v->as_object() : boost::json::object{};
}

void set_key(session_record& r, std::string_view key, boost::json::value value) {
  std::error_code ec;
  auto v = parse_json(r.json, ec);
  v->as_object()[key] = std::move(value);
  r.json = stringify(*v);
}

class session_rotation : public ::testing::TestWithParam<bool> {};  // answered at once or later

TEST_P(session_rotation, renew_keeps_the_data_under_a_new_id_and_the_old_id_forwards_for_the_grace) {
  options o = test_options();
  o.renew_grace = 5s;
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  const auto first = counting_request(h, "");
  std::error_code renewed = make_error_code(error::no_session);
  const auto second = h.request(first.cookie_header(), [&](request_driver& d) {
    d.current()->set_user("alice");
    d.current()->renew([&](std::error_code ec) { renewed = ec; });
  });
  EXPECT_FALSE(renewed);
  ASSERT_NE(second.id, first.id);
  EXPECT_EQ(h.id_in(second.set_cookie), second.id) << "the response carries the new id";
  const session_record& fresh = h.store->records.at(second.id);
  EXPECT_EQ(data_of(fresh).at("count"), 1);
  EXPECT_EQ(fresh.user, "alice");
  const session_record& forward = h.store->records.at(first.id);
  EXPECT_EQ(data_of(forward).at("_sessionkit_renewed_to").as_string(), second.id);
  EXPECT_EQ(data_of(forward).size(), 2u) << "no data stays under the old id (only its cookie and the new id)";
  EXPECT_TRUE(forward.user.empty());
  ASSERT_TRUE(forward.expires);
  EXPECT_NEAR(double(ms(*forward.expires)), double(ms(now() + 5s)), 1000.0);

  // A request still carrying the old id: served the renewed session, told its new id.
  const auto late = counting_request(h, first.cookie_header());
  EXPECT_EQ(late.id, second.id);
  EXPECT_EQ(h.id_in(late.set_cookie), second.id);
  EXPECT_EQ(data_of(h.store->records.at(second.id)).at("count"), 2);
  // The new id goes on as any session.
  const auto next = counting_request(h, second.cookie_header());
  EXPECT_EQ(next.id, second.id);
  EXPECT_EQ(data_of(h.store->records.at(second.id)).at("count"), 3);
}

TEST_P(session_rotation, past_the_grace_the_old_id_names_nothing) {
  options o = test_options();
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  const auto first = counting_request(h, "");
  const auto second = h.request(first.cookie_header(), [](request_driver& d) { d.current()->renew([](std::error_code) {}); });
  h.store->records.at(first.id).expires = now() - 1ms;  // the grace is over
  h.store->records.erase(first.id);                       // (as a store drops it)
  const auto late = counting_request(h, first.cookie_header());
  EXPECT_NE(late.id, second.id);
  EXPECT_NE(late.id, first.id);
  EXPECT_EQ(data_of(h.store->records.at(late.id)).at("count"), 1);
}

TEST_P(session_rotation, without_a_grace_the_old_id_is_destroyed_at_once) {
  options o = test_options();
  o.renew_grace = 0ms;
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  const auto first = counting_request(h, "");
  const auto second = h.request(first.cookie_header(), [](request_driver& d) { d.current()->renew([](std::error_code) {}); });
  EXPECT_EQ(h.store->records.count(first.id), 0u);
  EXPECT_EQ(h.store->records.count(second.id), 1u);
}

TEST_P(session_rotation, a_forward_to_a_forward_is_not_followed) {
  options o = test_options();
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  const auto a = counting_request(h, "");
  const auto b = counting_request(h, "");
  // a forwards to b, and b (forged or stale) forwards on to a: no loop, a new session.
  auto forward_to = [&](session_record& r, const std::string& to) {
    std::error_code ec;
    auto v = parse_json(r.json, ec);
    boost::json::object forward;
    forward["cookie"] = v->as_object().at("cookie");
    forward["_sessionkit_renewed_to"] = to;
    r.json = stringify(forward);
  };
  forward_to(h.store->records.at(a.id), b.id);
  forward_to(h.store->records.at(b.id), a.id);
  const auto r = counting_request(h, a.cookie_header());
  EXPECT_NE(r.id, a.id);
  EXPECT_NE(r.id, b.id);
  EXPECT_EQ(data_of(h.store->records.at(r.id)).at("count"), 1);
}

TEST_P(session_rotation, an_id_older_than_the_renew_interval_is_renewed_before_the_handler) {
  options o = test_options();
  o.renew_interval = 15min;
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  const auto first = counting_request(h, "");
  const auto created = data_of(h.store->records.at(first.id)).at("_sessionkit_created").as_int64();
  EXPECT_GE(created, ms(now()) - 5000);
  // Younger than the interval: kept.
  EXPECT_EQ(counting_request(h, first.cookie_header()).id, first.id);
  // 16 minutes old: renewed; the data and the creation time stay, the renewal time is kept.
  const std::int64_t long_ago = ms(now()) - 16 * 60'000;
  set_key(h.store->records.at(first.id), "_sessionkit_created", long_ago);
  std::string seen_in_handler;
  const auto renewed = h.request(first.cookie_header(), [&](request_driver& d) {
    seen_in_handler = d.current()->id();
    auto& v = (*d.current())["count"];
    v = v.as_int64() + 1;
  });
  EXPECT_NE(renewed.id, first.id);
  EXPECT_EQ(seen_in_handler, renewed.id) << "renewed before the handler ran";
  EXPECT_EQ(h.id_in(renewed.set_cookie), renewed.id);
  const auto data = data_of(h.store->records.at(renewed.id));
  EXPECT_EQ(data.at("count"), 3);
  EXPECT_EQ(data.at("_sessionkit_created").as_int64(), long_ago);
  EXPECT_GE(data.at("_sessionkit_renewed").as_int64(), ms(now()) - 5000);
  // And then young again.
  EXPECT_EQ(counting_request(h, renewed.cookie_header()).id, renewed.id);
}

INSTANTIATE_TEST_SUITE_P(stores, session_rotation, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "at_once" : "later"; });

}  // namespace
}  // namespace sessionkit::test
