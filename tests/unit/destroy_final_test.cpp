// Issue 14, part 1: destroy is final. A session destroyed while a request of it is in flight is
// not written back by that request's save or touch, in every mode; the request answers
// normally, with no cookie for it.

#include "engine_harness.hpp"

namespace sessionkit::test {
namespace {

class destroy_final : public ::testing::TestWithParam<bool> {};  // answered at once or later

TEST_P(destroy_final, a_save_does_not_bring_back_a_session_destroyed_meanwhile) {
  for (bool resave : {false, true}) {
    for (bool modify : {false, true}) {
      SCOPED_TRACE("resave=" + std::to_string(resave) + " modify=" + std::to_string(modify));
      options o = test_options();
      o.resave = resave;
      o.cookie.max_age = std::chrono::hours(1);
      engine_harness h(o);
      h.store->answers_at_once = GetParam();
      const auto first = counting_request(h, "");
      ASSERT_TRUE(h.store->records.count(first.id));
      const auto r = h.request(first.cookie_header(), [&](request_driver& ctx) {
        h.store->records.erase(first.id);  // another request (or server) destroys it now
        if (modify) (*ctx.current())["count"] = 99;
      });
      EXPECT_FALSE(r.end_error);               // the request answers normally...
      EXPECT_FALSE(r.set_cookie);              // ...with no cookie for the dead session
      EXPECT_EQ(h.store->records.count(first.id), 0u);  // and it stays destroyed
    }
  }
}

TEST_P(destroy_final, an_explicit_save_reports_the_session_gone) {
  engine_harness h(test_options());
  h.store->answers_at_once = GetParam();
  const auto first = counting_request(h, "");
  std::error_code saved;
  h.request(first.cookie_header(), [&](request_driver& ctx) {
    h.store->records.erase(first.id);
    (*ctx.current())["count"] = 5;
    ctx.current()->save([&](std::error_code ec) { saved = ec; });
    h.store->drain();
  });
  EXPECT_EQ(saved, error::session_gone);
  EXPECT_EQ(h.store->records.count(first.id), 0u);
}

TEST_P(destroy_final, new_and_regenerated_sessions_are_inserted_and_then_replaced) {
  engine_harness h(test_options());
  h.store->answers_at_once = GetParam();
  const auto first = counting_request(h, "");  // inserted where absent
  EXPECT_NE(h.store->records.at(first.id).json.find("\"count\":1"), std::string::npos);
  const auto second = counting_request(h, first.cookie_header());  // replaced while present
  EXPECT_NE(h.store->records.at(first.id).json.find("\"count\":2"), std::string::npos);
  const auto regenerated = h.request(first.cookie_header(), [&](request_driver& ctx) {
    ctx.current()->regenerate([](std::error_code) {});
    h.store->drain();
    (*ctx.current())["user"] = "ada";
    // An explicit save of the new session, then the end of the request replaces it.
    ctx.current()->save([](std::error_code ec) { EXPECT_FALSE(ec); });
    h.store->drain();
    (*ctx.current())["more"] = true;
  });
  ASSERT_TRUE(regenerated.set_cookie);
  EXPECT_EQ(h.store->records.count(first.id), 0u);
  EXPECT_NE(h.store->records.at(regenerated.id).json.find("\"more\":true"), std::string::npos);
  EXPECT_EQ(std::count_if(h.store->calls.begin(), h.store->calls.end(),
                          [](const std::string& c) { return c.rfind("set-refused", 0) == 0; }),
            0);
}

TEST_P(destroy_final, a_store_without_conditional_writes_writes_as_express_session_does) {
  engine_harness h(test_options());
  h.store->answers_at_once = GetParam();
  h.store->conditional = false;
  const auto first = counting_request(h, "");
  h.request(first.cookie_header(), [&](request_driver& ctx) {
    h.store->records.erase(first.id);
    (*ctx.current())["count"] = 99;
  });
  EXPECT_EQ(h.store->records.count(first.id), 1u);  // last writer wins (express-session's behaviour)
}

INSTANTIATE_TEST_SUITE_P(stores, destroy_final, ::testing::Bool(), [](const auto& info) {
  return info.param ? "answered_at_once" : "asynchronous";
});

}  // namespace
}  // namespace sessionkit::test
