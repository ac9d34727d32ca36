// Issue 16, item 4: lifecycle events (created, loaded, regenerated, destroyed, expired), each
// once, with the id's hash (never the id), the user and the reason, delivered on the engine's
// own thread; a full queue drops events instead of growing.

#include "engine_harness.hpp"

#include <sessionkit/json.hpp>

#include <mutex>
#include <thread>

namespace sessionkit::test {
namespace {

struct recorder {
  std::mutex mutex;
  std::vector<session_event> events;
  std::vector<std::thread::id> threads;
  event_handler handler() {
    return [this](const session_event& e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
      threads.push_back(std::this_thread::get_id());
    };
  }
  // "kind reason" of each event so far.
  std::vector<std::string> seen(const engine& eng) {
    eng.flush_events();
    std::lock_guard lock(mutex);
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(std::string(to_string(e.kind)) + " " + e.reason);
    events.clear();
    return out;
  }
};

using list = std::vector<std::string>;

class session_events : public ::testing::TestWithParam<bool> {};  // answered at once or later

TEST_P(session_events, each_step_of_a_session_is_reported_once) {
  recorder r;
  options o = test_options();
  o.on_event = r.handler();
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  const auto first = counting_request(h, "");
  EXPECT_EQ(r.seen(h.eng), (list{"created new"}));
  counting_request(h, first.cookie_header());
  EXPECT_EQ(r.seen(h.eng), (list{"loaded request"}));
  const auto regenerated = h.request(first.cookie_header(), [&](request_driver& ctx) {
    ctx.current()->regenerate([](std::error_code) {});
    h.store->drain();
  });
  EXPECT_EQ(r.seen(h.eng), (list{"loaded request", "regenerated regenerate", "created new"}));
  h.request(regenerated.cookie_header(), [&](request_driver& ctx) {
    ctx.current()->destroy([](std::error_code) {});
    h.store->drain();
  });
  EXPECT_EQ(r.seen(h.eng), (list{"loaded request", "destroyed destroy"}));
  // The cookie names a session the store no longer has.
  counting_request(h, regenerated.cookie_header());
  EXPECT_EQ(r.seen(h.eng), (list{"expired gone", "created new"}));
}

TEST_P(session_events, events_carry_the_user_and_a_hash_of_the_id_on_another_thread) {
  recorder r;
  options o = test_options();
  o.on_event = r.handler();
  o.absolute_timeout = std::chrono::hours(1);
  engine_harness h(o);
  h.store->answers_at_once = GetParam();
  const auto first = h.request("", [](request_driver& ctx) { (*ctx.current())["user"] = "ada"; });
  h.eng.flush_events();
  {
    std::lock_guard lock(r.mutex);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].user, "ada");
    EXPECT_EQ(r.events[0].id_hash, hash_session_id(first.id));
    EXPECT_EQ(r.events[0].id_hash.size(), 32u);
    EXPECT_EQ(r.events[0].id_hash.find(first.id), std::string::npos);
    EXPECT_NE(r.threads[0], std::this_thread::get_id());
    r.events.clear();
  }
  // Ended by the absolute timeout: expired, with its reason and its user.
  auto& stored = h.store->records.at(first.id);
  std::error_code ec;
  auto v = parse_json(stored.json, ec);
  v->get_object()["_sessionkit_created"] = std::int64_t(0);
  stored.json = stringify(*v);
  h.request(first.cookie_header());
  h.eng.flush_events();
  std::lock_guard lock(r.mutex);
  ASSERT_GE(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].kind, session_event_kind::expired);
  EXPECT_EQ(r.events[0].reason, "absolute timeout");
  EXPECT_EQ(r.events[0].user, "ada");
  EXPECT_EQ(r.events[0].id_hash, hash_session_id(first.id));
}

INSTANTIATE_TEST_SUITE_P(answers, session_events, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "at_once" : "later"; });

TEST(session_events_unset, unset_with_destroy_is_a_destroyed_event) {
  recorder r;
  options o = test_options();
  o.on_event = r.handler();
  o.unset = unset_action::destroy;
  engine_harness h(o);
  const auto first = counting_request(h, "");
  r.seen(h.eng);
  h.request(first.cookie_header(), [](request_driver& ctx) { ctx.unset_session(); });
  EXPECT_EQ(r.seen(h.eng), (list{"loaded request", "destroyed unset"}));
}

TEST(event_dispatcher, a_full_queue_drops_and_counts_instead_of_growing) {
  std::mutex gate;
  std::unique_lock hold(gate);  // the handler blocks until the test lets it go
  std::atomic<int> delivered{0};
  event_dispatcher d([&](const session_event&) {
    std::lock_guard wait(gate);
    ++delivered;
  }, 4);
  for (int i = 0; i < 20; ++i) d.post({});
  hold.unlock();
  d.flush();
  // One was taken by the handler at once, four waited; the rest were dropped.
  EXPECT_GE(d.dropped(), 15u);
  EXPECT_EQ(delivered.load() + static_cast<int>(d.dropped()), 20);
}

TEST(event_dispatcher, a_throwing_handler_does_not_stop_delivery) {
  std::atomic<int> calls{0};
  event_dispatcher d([&](const session_event&) {
    if (++calls == 1) throw std::runtime_error("audit log unavailable");
  });
  d.post({});
  d.post({});
  d.flush();
  EXPECT_EQ(calls.load(), 2);
}

}  // namespace
}  // namespace sessionkit::test
