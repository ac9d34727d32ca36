// Issue 16, item 5: the signed id in a header, for APIs and mobile clients. With
// `id_transport::header` a request's `X-Session-Id` (or `Authorization: Bearer ...`) names the
// session and the response sends the id back when it would send the cookie, with no cookie;
// with `cookie_and_header` either works and both are sent; forged values start a new session.

#include "engine_harness.hpp"

namespace sessionkit::test {
namespace {

options with_transport(id_transport t) {
  options o = test_options();
  o.transport = t;
  return o;
}

request_result count_with_header(engine_harness& h, const std::string& id_header) {
  return h.request("", [](request_driver& ctx) {
    auto& v = (*ctx.current())["count"];
    v = v.is_int64() ? v.get_int64() + 1 : 1;
  }, "/", false, "", id_header);
}

TEST(id_header, header_transport_carries_the_session_without_cookies) {
  engine_harness h(with_transport(id_transport::header));
  const auto first = count_with_header(h, "");
  EXPECT_FALSE(first.set_cookie);
  ASSERT_TRUE(first.id_header);
  EXPECT_EQ(first.id_header->rfind("s:" + first.id + ".", 0), 0u);
  const auto second = count_with_header(h, *first.id_header);
  EXPECT_EQ(second.id, first.id);
  EXPECT_NE(h.store->records.at(first.id).json.find("\"count\":2"), std::string::npos);
  EXPECT_FALSE(second.id_header);  // a loaded session, nothing new to tell (as the cookie)
  const auto bearer = count_with_header(h, "Bearer " + *first.id_header);
  EXPECT_EQ(bearer.id, first.id);
  // A cookie is not read with the header transport.
  const auto by_cookie = h.request("connect.sid=" + encode_uri_component(*first.id_header));
  EXPECT_NE(by_cookie.id, first.id);
}

TEST(id_header, forged_or_unsigned_values_start_a_new_session) {
  engine_harness h(with_transport(id_transport::header));
  const auto first = count_with_header(h, "");
  for (const std::string& bad : std::vector<std::string>{first.id, "s:" + first.id, "s:" + first.id + ".AAAA",
                                                        "Bearer", "s:", "Basic " + *first.id_header}) {
    const auto r = count_with_header(h, bad);
    EXPECT_NE(r.id, first.id) << bad;
    ASSERT_TRUE(r.id_header) << bad;  // a new session's id
  }
}

TEST(id_header, cookie_and_header_takes_either_and_sends_both) {
  engine_harness h(with_transport(id_transport::cookie_and_header));
  const auto first = count_with_header(h, "");
  ASSERT_TRUE(first.set_cookie);
  ASSERT_TRUE(first.id_header);
  EXPECT_EQ(count_with_header(h, *first.id_header).id, first.id);  // by header
  EXPECT_EQ(counting_request(h, first.cookie_header()).id, first.id);  // by cookie
  // The header wins over a cookie naming another session.
  const auto other = count_with_header(h, "");
  const auto both = h.request(first.cookie_header(), {}, "/", false, "", *other.id_header);
  EXPECT_EQ(both.id, other.id);
}

TEST(id_header, cookie_transport_ignores_the_header) {
  engine_harness h(test_options());
  const auto first = counting_request(h, "");
  EXPECT_FALSE(first.id_header);
  const std::string signed_value = "s:" + h.eng.cookie_signer().sign(first.id);
  const auto r = count_with_header(h, signed_value);
  EXPECT_NE(r.id, first.id);
}

TEST(id_header, a_bad_header_name_is_refused) {
  options o = with_transport(id_transport::header);
  o.id_header = "X Session";
  EXPECT_THROW(engine{o}, std::invalid_argument);
}

}  // namespace
}  // namespace sessionkit::test
