// Issue 16, item 7: hashed ids at rest. The store's key is a keyed hash of the id; a renewed
// session's old record carries the new id sealed with the old one; no live id reaches the store.

#include "engine_harness.hpp"
#include "id_hashing.hpp"

#include <sessionkit/session.hpp>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

TEST(id_hashing, the_key_is_a_keyed_hash_of_the_id) {
  const std::string a = detail::hashed_id("key one", "the-session-id");
  EXPECT_EQ(a.size(), 43u);
  EXPECT_EQ(a, detail::hashed_id("key one", "the-session-id"));  // the same id finds its record
  EXPECT_NE(a, detail::hashed_id("key two", "the-session-id"));
  EXPECT_NE(a, detail::hashed_id("key one", "the-session-iD"));
  EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), std::string::npos);
}

TEST(id_hashing, a_sealed_forward_opens_only_with_the_old_id) {
  const std::string sealed = detail::seal_forward("old-id", "the-new-id-0123456789-0123456789-0123456789");
  EXPECT_EQ(sealed.find("new"), std::string::npos);
  EXPECT_EQ(detail::open_forward("old-id", sealed), "the-new-id-0123456789-0123456789-0123456789");
  EXPECT_NE(detail::open_forward("other-id", sealed), "the-new-id-0123456789-0123456789-0123456789");
  EXPECT_EQ(detail::open_forward("old-id", "xyz"), std::nullopt);
  EXPECT_EQ(detail::open_forward("old-id", "abc"), std::nullopt);
  EXPECT_EQ(detail::open_forward("old-id", ""), std::nullopt);
}

// Through whole requests: the store only ever sees hashes; sessions, renewals and their grace
// work as without hashing.
TEST(id_hashing, no_live_id_reaches_the_store) {
  options o = test_options();
  o.id_hash_key = "a key of its own";
  engine_harness h(o);
  const auto first = counting_request(h, "");
  const auto second = counting_request(h, first.cookie_header());
  EXPECT_EQ(second.id, first.id);
  ASSERT_EQ(h.store->records.size(), 1u);
  EXPECT_EQ(h.store->records.begin()->first, h.eng.store_key(first.id));
  EXPECT_NE(h.store->records.begin()->first, first.id);
  EXPECT_NE(h.store->records.begin()->second.json.find("\"count\":2"), std::string::npos);
  const auto renewed = h.request(first.cookie_header(), [](request_driver& d) { d.current()->renew([](std::error_code) {}); });
  ASSERT_NE(renewed.id, first.id);
  for (const auto& [key, record] : h.store->records) {
    for (const std::string& live : {first.id, renewed.id}) {
      EXPECT_EQ(key.find(live), std::string::npos);
      EXPECT_EQ(record.json.find(live), std::string::npos) << record.json;
    }
  }
  // The old id within its grace: the renewed session, and its cookie.
  const auto late = counting_request(h, first.cookie_header());
  EXPECT_EQ(late.id, renewed.id);
  EXPECT_EQ(h.id_in(late.set_cookie), renewed.id);
  EXPECT_NE(h.store->records.at(h.eng.store_key(renewed.id)).json.find("\"count\":3"), std::string::npos);
}

}  // namespace
}  // namespace sessionkit::test
