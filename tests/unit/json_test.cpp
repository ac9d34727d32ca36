#include <sessionkit/json.hpp>

#include "fixtures.hpp"

#include <gtest/gtest.h>

namespace sessionkit::test {
namespace {

TEST(json, stringify_matches_node) {
  const auto vectors = load_fixture("json_stringify_vectors.json");
  std::size_t checked = 0, unparsable = 0;
  for (const auto& item : vectors) {
    const auto& v = item.as_object();
    if (v.if_contains("js_reorders_integer_keys")) continue;  // JavaScript-only key order
    const std::string input = str(v.at("input"));
    SCOPED_TRACE(input);
    std::error_code ec;
    auto parsed = parse_json(input, ec);
    if (!parsed) {
      // Lone surrogate escapes and out-of-range numbers: rejected as invalid records.
      ++unparsable;
      continue;
    }
    EXPECT_EQ(stringify(*parsed), str(v.at("output")));
    ++checked;
  }
  EXPECT_GE(checked, 100u);
  EXPECT_LE(unparsable, 6u);
}

TEST(json, numbers_in_javascript_form) {
  auto js = [](double d) {
    std::string s;
    append_js_number(s, d);
    return s;
  };
  EXPECT_EQ(js(1), "1");
  EXPECT_EQ(js(-0.0), "0");
  EXPECT_EQ(js(1.5), "1.5");
  EXPECT_EQ(js(1e21), "1e+21");
  EXPECT_EQ(js(1e20), "100000000000000000000");
  EXPECT_EQ(js(1e-7), "1e-7");
  EXPECT_EQ(js(0.000001), "0.000001");
  EXPECT_EQ(js(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(js(5e-324), "5e-324");
  EXPECT_EQ(js(1.7976931348623157e308), "1.7976931348623157e+308");
}

TEST(json, splices_a_fresh_cookie_into_a_record) {
  const std::string stored = R"({"cookie":{"path":"/x}y","expires":null},"count":3,"s":"{\"}"})";
  auto out = splice_record_cookie(stored, R"({"expires":"later"})");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"cookie":{"expires":"later"},"count":3,"s":"{\"}"})");
  auto reordered = splice_record_cookie(R"({"count":3,"cookie":{}})", R"({"a":1})");
  ASSERT_TRUE(reordered);
  EXPECT_EQ(*reordered, R"({"cookie":{"a":1},"count":3})");
  EXPECT_FALSE(splice_record_cookie("not json", "{}"));
}

}  // namespace
}  // namespace sessionkit::test
