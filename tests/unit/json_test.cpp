#include <sessionkit/json.hpp>
#include <sessionkit/record.hpp>

#include "fixtures.hpp"

#include <gtest/gtest.h>

namespace sessionkit::test {
namespace {

TEST(json, stringify_matches_node) {
  const auto vectors = load_fixture("json_stringify_vectors.json");
  std::size_t checked = 0, unparsable = 0;
  for (const auto& item : vectors) {
    const auto& v = item.as_object();
    const std::string input = str(v.at("input"));
    SCOPED_TRACE(input);
    std::error_code ec;
    auto parsed = parse_json(input, ec);
    if (!parsed) {
      ++unparsable;
      ADD_FAILURE() << "Node parses this, we do not";
      continue;
    }
    EXPECT_EQ(stringify(*parsed), str(v.at("output")));
    ++checked;
  }
  EXPECT_GE(checked, 110u);
  EXPECT_EQ(unparsable, 0u);
}

TEST(json, array_index_keys_come_first_as_in_javascript) {
  std::error_code ec;
  auto v = parse_json(R"({"b":1,"10":2,"2":3,"a":4,"-1":5,"01":6,"4294967295":7,"4294967294":8,"1.5":9,"0":10,"n":{"z":1,"1":2}})", ec);
  ASSERT_TRUE(v);
  EXPECT_EQ(stringify(*v),
            R"({"0":10,"2":3,"10":2,"4294967294":8,"b":1,"a":4,"-1":5,"01":6,"4294967295":7,"1.5":9,"n":{"1":2,"z":1}})");
}

TEST(json, lone_surrogates_and_invalid_utf8_read_as_node_reads_them) {
  std::error_code ec;
  auto v = parse_json(R"({"high":"a\ud800b","low":"\udc00","pair":"\ud83d\ude00","reversed":"\ude00\ud83d","esc":"\\ud800"})", ec);
  ASSERT_TRUE(v);
  EXPECT_EQ(stringify(*v),
            "{\"high\":\"a\\ud800b\",\"low\":\"\\udc00\",\"pair\":\"\xF0\x9F\x98\x80\",\"reversed\":\"\\ude00\\ud83d\",\"esc\":\"\\\\ud800\"}");
  auto bad = parse_json("{\"s\":\"a\xFF\xC3" "b\"}", ec);
  ASSERT_TRUE(bad);
  EXPECT_EQ(stringify(*bad), "{\"s\":\"a\xEF\xBF\xBD\xEF\xBF\xBD" "b\"}");
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
  auto out = record::with_cookie(stored, R"({"expires":"later"})");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"cookie":{"expires":"later"},"count":3,"s":"{\"}"})");
  auto reordered = record::with_cookie(R"({"count":3,"cookie":{}})", R"({"a":1})");
  ASSERT_TRUE(reordered);
  EXPECT_EQ(*reordered, R"({"cookie":{"a":1},"count":3})");
  EXPECT_FALSE(record::with_cookie("not json", "{}"));
}

}  // namespace
}  // namespace sessionkit::test
