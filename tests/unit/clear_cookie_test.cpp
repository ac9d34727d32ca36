// Issue 16, item 6: with options::clear_cookie_on_destroy, a destroyed session's response
// clears the cookie (empty value, expired in 1970, same path and domain); without it nothing is
// sent, as in express-session 1.

#include "engine_harness.hpp"

namespace sessionkit::test {
namespace {

TEST(clear_cookie_on_destroy, a_destroy_sends_a_cookie_the_browser_drops) {
  options o = test_options();
  o.clear_cookie_on_destroy = true;
  o.cookie.domain = "example.com";
  o.cookie.path = "/app";
  o.cookie.max_age = std::chrono::hours(1);
  engine_harness h(o);
  const auto first = h.request("", [](request_driver& ctx) { (*ctx.current())["n"] = 1; }, "/app/x");
  const auto destroyed = h.request(first.cookie_header(), [&](request_driver& ctx) {
    ctx.current()->destroy([](std::error_code) {});
    h.store->drain();
  }, "/app/x");
  EXPECT_EQ(h.store->records.count(first.id), 0u);
  ASSERT_TRUE(destroyed.set_cookie);
  EXPECT_EQ(*destroyed.set_cookie,
            "connect.sid=; Domain=example.com; Path=/app; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly");
}

TEST(clear_cookie_on_destroy, off_by_default_and_not_for_a_live_session) {
  engine_harness h(test_options());
  const auto first = counting_request(h, "");
  const auto destroyed = h.request(first.cookie_header(), [&](request_driver& ctx) {
    ctx.current()->destroy([](std::error_code) {});
    h.store->drain();
  });
  EXPECT_FALSE(destroyed.set_cookie);
  options o = test_options();
  o.clear_cookie_on_destroy = true;
  engine_harness on(o);
  const auto live = counting_request(on, "");
  const auto again = counting_request(on, live.cookie_header());
  EXPECT_FALSE(again.set_cookie);  // a loaded session, unchanged expiry: nothing to send
}

TEST(clear_cookie_on_destroy, unset_with_destroy_clears_it_too) {
  options o = test_options();
  o.clear_cookie_on_destroy = true;
  o.unset = unset_action::destroy;
  engine_harness h(o);
  const auto first = counting_request(h, "");
  const auto unset = h.request(first.cookie_header(), [](request_driver& ctx) { ctx.unset_session(); });
  EXPECT_EQ(h.store->records.count(first.id), 0u);
  ASSERT_TRUE(unset.set_cookie);
  EXPECT_NE(unset.set_cookie->find("Expires=Thu, 01 Jan 1970"), std::string::npos);
}

}  // namespace
}  // namespace sessionkit::test
