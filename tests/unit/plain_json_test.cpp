// The fast paths for plain JSON (small flat session data, stored cookie objects) must give
// exactly what the general parser gives, and step aside for everything else.

#include <sessionkit/json.hpp>
#include <sessionkit/record.hpp>
#include <sessionkit/session_cookie.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sessionkit {
namespace {

// Texts on both sides of the fast path's edge: each must parse to what Boost.JSON's own parser
// builds (kind by kind), or fail where it fails.
const std::vector<std::string> data_texts = {
    R"({"count":1})",
    R"({})",
    R"({"a":"x","b":true,"c":null,"d":-5,"e":false,"f":""})",
    R"({"n":123456789012345})",
    R"({"n":1234567890123456})",  // 16 digits: general parser
    R"({"n":-0})",                // a double -0 to Boost
    R"({"n":0})",
    R"({"n":1.5})",
    R"({"n":1e3})",
    R"({"n":01})",                // not JSON
    R"({"a":{"b":1}})",
    R"({"a":[1,2]})",
    R"({"a":"\u00e9"})",
    R"({"a":"é"})",
    R"({"a":"line\nbreak"})",
    R"({"a":1,"a":2})",
    R"({ "a":1})",
    R"({"a":1} )",
    R"({"a":1,})",
    R"({"a":1)",
    R"({"a":tru})",
    R"({"1":1,"0":0})",
    R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17})",
};

TEST(plain_json, flat_data_parses_exactly_as_the_general_parser) {
  for (const auto& text : data_texts) {
    SCOPED_TRACE(text);
    std::error_code ec;
    const auto ours = parse_json(text, ec);
    boost::system::error_code bec;
    const boost::json::value theirs = boost::json::parse(text, bec);
    ASSERT_EQ(ours.has_value(), !bec);
    if (!ours) continue;
    ASSERT_TRUE(ours->is_object());
    const auto& a = ours->get_object();
    const auto& b = theirs.get_object();
    ASSERT_EQ(a.size(), b.size());
    auto ia = a.begin();
    for (auto ib = b.begin(); ib != b.end(); ++ia, ++ib) {
      EXPECT_EQ(ia->key(), ib->key());
      EXPECT_EQ(ia->value().kind(), ib->value().kind());
      EXPECT_EQ(stringify(ia->value()), stringify(ib->value()));
    }
  }
}

// Flat data in the plain form is exactly what JSON.stringify writes for it (the engine then uses
// the stored text as the session's change-detection hash instead of writing it again).
TEST(plain_json, plain_flat_data_is_its_own_stringify) {
  for (const std::string text : {R"({"count":1})", R"({})", R"({"a":"x","b":true,"c":null,"d":-5,"e":false,"f":""})",
                                 R"({"n":123456789012345,"m":-987654321})", R"x({"s":"with spaces ~!@#$%^&*()"})x"}) {
    std::error_code ec;
    const auto parsed = parse_json(text, ec);
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(stringify(*parsed), text);
  }
}

// Cookie objects: whenever the fast reader accepts one, the result is what the general path
// (parse, then record::read_cookie) gives.
const std::vector<std::string> cookie_texts = {
    R"({"originalMaxAge":86400000,"expires":"2026-11-23T00:37:25.123Z","httpOnly":true,"path":"/"})",
    R"({"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"})",
    R"({"originalMaxAge":3600000,"partitioned":true,"priority":"high","expires":"2026-11-23T00:37:25.123Z","secure":true,"httpOnly":false,"domain":"example.com","path":"/app","sameSite":"strict"})",
    R"({"originalMaxAge":1,"expires":"Thu, 01 Jan 1970 00:00:00 GMT","httpOnly":true,"path":"/"})",
    R"({"originalMaxAge":1,"expires":1700000000000,"httpOnly":null,"path":null,"sameSite":true})",
    R"({"sameSite":false,"secure":null,"domain":null,"priority":null,"partitioned":null})",
    R"({"originalMaxAge":-5,"expires":-1})",
    R"({})",
    R"({"originalMaxAge":1.5,"httpOnly":true,"path":"/"})",             // a fraction
    R"({"originalMaxAge":"1","httpOnly":true,"path":"/"})",             // wrong type
    R"({"expires":"not a date","path":"/"})",                           // invalid date
    R"({"expires":"2026-11-23T00:37:25.123Z","path":"/é"})",            // non-ASCII
    R"({"path":"/a\"b"})",                                              // an escape
    R"({"path":"/","path":"/x"})",                                      // repeated key
    R"({"path":"/","unknown":1})",                                      // unknown key
    R"({"httpOnly":1})",
    R"({"originalMaxAge":99999999999999999999})",
    R"({"originalMaxAge":1e300})",
    R"({ "path":"/"})",
};

TEST(plain_json, stored_cookies_read_exactly_as_the_general_path) {
  std::size_t fast = 0;
  for (const auto& text : cookie_texts) {
    SCOPED_TRACE(text);
    session_cookie general;
    std::error_code ec;
    const auto parsed = parse_json(text, ec);
    const bool general_ok = parsed && parsed->is_object() && record::read_cookie(parsed->get_object(), general);
    session_cookie plain;
    if (!record::read_plain_cookie(text, plain)) continue;  // the general path decides
    ++fast;
    ASSERT_TRUE(general_ok) << "the fast reader accepted what the general path refuses";
    std::string a, b;
    record::append_cookie(a, plain);
    record::append_cookie(b, general);
    EXPECT_EQ(a, b);
  }
  EXPECT_GE(fast, 7u) << "the usual cookies must take the fast path";
}

TEST(plain_json, express_cookies_take_the_fast_path) {
  session_cookie c;
  ASSERT_TRUE(record::read_plain_cookie(cookie_texts[0], c));
  EXPECT_EQ(c.original_max_age, 86400000);
  ASSERT_TRUE(c.expires);
  EXPECT_EQ(format_iso_date(*c.expires), "2026-11-23T00:37:25.123Z");
  EXPECT_TRUE(c.http_only);
  EXPECT_EQ(c.path, "/");
}

TEST(plain_json, leading_cookie_object_skips_strings_with_escapes) {
  const std::string record =
      R"({"cookie":{"path":"/a\"}\\","domain":"x}"},"data":"}"})";
  const auto cookie = record::leading_cookie(record);
  ASSERT_TRUE(cookie);
  EXPECT_EQ(*cookie, R"({"path":"/a\"}\\","domain":"x}"})");
  EXPECT_FALSE(record::leading_cookie(R"({"cookie":{"path":"/a\"})"));
  EXPECT_FALSE(record::leading_cookie(R"({"cookie":{"path":"unterminated})"));
  EXPECT_FALSE(record::leading_cookie(R"({"other":{}})"));
}

}  // namespace
}  // namespace sessionkit
