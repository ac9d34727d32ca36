// The same request lifecycle driven two ways: through the store's asynchronous calls, and with a
// store that answers at once (`store::immediate()`, as MemoryStore does).

#include "engine_harness.hpp"

#include <sessionkit/signer.hpp>

namespace sessionkit::test {
namespace {

enum class drive { asynchronous, answered_at_once };

class engine_at_once : public ::testing::TestWithParam<drive> {
 protected:
  engine_harness make(options o) {
    engine_harness h(std::move(o));
    h.store->answers_at_once = GetParam() == drive::answered_at_once;
    return h;
  }

  // After every request: nothing left queued when the store answered at once, and calls were
  // answered at once only in that mode.
  void check_mode(engine_harness& h) {
    if (GetParam() == drive::answered_at_once) {
      EXPECT_EQ(h.store->pending(), 0u);
      EXPECT_GT(h.store->answered_at_once, 0u);
    } else {
      EXPECT_EQ(h.store->answered_at_once, 0u);
    }
  }
};

options lifecycle_options() {
  options o = test_options();
  o.resave = false;
  o.cookie.max_age = std::chrono::hours(1);
  return o;
}

TEST_P(engine_at_once, whole_lifecycle_behaves_the_same) {
  engine_harness h = make(lifecycle_options());

  const auto first = counting_request(h, "");
  ASSERT_TRUE(first.set_cookie);
  check_mode(h);
  EXPECT_NE(h.store->records.at(first.id).json.find("\"count\":1"), std::string::npos);

  // The same session, modified: saved, and the cookie re-sent with the very bytes it came with.
  const auto second = counting_request(h, first.cookie_header());
  EXPECT_EQ(second.id, first.id);
  ASSERT_TRUE(second.set_cookie);
  EXPECT_EQ(second.cookie_header(), first.cookie_header());
  EXPECT_NE(h.store->records.at(first.id).json.find("\"count\":2"), std::string::npos);
  EXPECT_EQ(h.store->calls.back(), "set " + first.id);

  // Read only (resave false): touched, no cookie.
  const auto read = h.request(first.cookie_header(), [](request_driver& ctx) {
    EXPECT_EQ((*ctx.current())["count"].as_int64(), 2);
  });
  EXPECT_EQ(read.id, first.id);
  EXPECT_FALSE(read.set_cookie);
  EXPECT_EQ(h.store->calls.back(), "touch " + first.id);
  check_mode(h);

  // Regenerate: the old id is destroyed, the new one saved and sent.
  const auto regenerated = h.request(first.cookie_header(), [&](request_driver& ctx) {
    ctx.current()->regenerate([](std::error_code ec) { EXPECT_FALSE(ec); });
    h.store->drain();
    (*ctx.current())["user"] = "ada";
  });
  EXPECT_NE(regenerated.id, first.id);
  ASSERT_TRUE(regenerated.set_cookie);
  EXPECT_EQ(h.id_in(regenerated.set_cookie), regenerated.id);
  EXPECT_EQ(h.store->records.count(first.id), 0u);
  EXPECT_NE(h.store->records.at(regenerated.id).json.find("\"user\":\"ada\""), std::string::npos);

  // The old cookie now finds nothing: a new session, never the old id.
  const auto stale = counting_request(h, first.cookie_header());
  EXPECT_NE(stale.id, first.id);

  // Destroy: the record goes, no cookie.
  const auto destroyed = h.request(regenerated.cookie_header(), [&](request_driver& ctx) {
    ctx.current()->destroy([](std::error_code ec) { EXPECT_FALSE(ec); });
    h.store->drain();
  });
  EXPECT_FALSE(destroyed.set_cookie);
  EXPECT_EQ(h.store->records.count(regenerated.id), 0u);
  check_mode(h);
}

TEST_P(engine_at_once, unset_session_destroys_at_the_end) {
  options o = lifecycle_options();
  o.unset = unset_action::destroy;
  engine_harness h = make(o);
  const auto first = counting_request(h, "");
  const auto unset = h.request(first.cookie_header(), [](request_driver& ctx) { ctx.unset_session(); });
  EXPECT_FALSE(unset.set_cookie);
  EXPECT_EQ(h.store->calls.back(), "destroy " + first.id);
  EXPECT_EQ(h.store->records.count(first.id), 0u);
  check_mode(h);
}

TEST_P(engine_at_once, store_errors_fail_the_request_and_withhold_the_cookie) {
  engine_harness h = make(lifecycle_options());
  const auto first = counting_request(h, "");
  h.store->fail_with = error::store_unavailable;
  EXPECT_EQ(counting_request(h, first.cookie_header()).load_error, error::store_unavailable);
  // A new session needs no load; its save fails and no cookie is sent.
  const auto fresh = counting_request(h, "");
  EXPECT_FALSE(fresh.load_error);
  EXPECT_EQ(fresh.end_error, error::store_unavailable);
  EXPECT_FALSE(fresh.set_cookie);
}

TEST_P(engine_at_once, a_cookie_signed_with_an_older_secret_is_signed_again_with_the_first) {
  options o = lifecycle_options();
  o.secrets = {"old secret"};
  engine_harness old_server = make(o);
  const auto first = counting_request(old_server, "");
  o.secrets = {"new secret", "old secret"};
  engine_harness new_server = make(o);
  new_server.store->records = old_server.store->records;
  const auto second = counting_request(new_server, first.cookie_header());
  EXPECT_EQ(second.id, first.id);
  ASSERT_TRUE(second.set_cookie);
  EXPECT_NE(second.cookie_header(), first.cookie_header());
  EXPECT_EQ(second.cookie_header(),
            "connect.sid=" + encode_uri_component("s:" + sign(first.id, "new secret")));
}

INSTANTIATE_TEST_SUITE_P(drives, engine_at_once,
                         ::testing::Values(drive::asynchronous, drive::answered_at_once),
                         [](const auto& info) {
                           switch (info.param) {
                             case drive::asynchronous: return "asynchronous";
                             case drive::answered_at_once: return "answered_at_once";
                           }
                           return "unknown";
                         });

}  // namespace
}  // namespace sessionkit::test
