#include <sessionkit/cookie.hpp>

#include "fixtures.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace sessionkit::test {
namespace {

TEST(cookie, parses_like_node_cookie_package) {
  const auto vectors = load_fixture("cookie_parse_vectors.json");
  ASSERT_GE(vectors.size(), 50u);
  for (const auto& item : vectors) {
    const std::string header = str(item.at("header"));
    SCOPED_TRACE(header);
    std::vector<cookie_pair> want;
    for (const auto& kv : item.at("parsed").as_object()) want.push_back({std::string(kv.key()), str(kv.value())});
    EXPECT_EQ(parse_cookie_header(header), want);
    for (const auto& p : want) EXPECT_EQ(find_cookie(header, p.name), p.value);
  }
}

TEST(cookie, first_occurrence_wins_and_missing_is_empty) {
  EXPECT_EQ(find_cookie("a=1; a=2", "a"), "1");
  EXPECT_EQ(find_cookie("b=1", "a"), std::nullopt);
  EXPECT_EQ(find_cookie("", "a"), std::nullopt);
  EXPECT_EQ(find_cookie("a = \" x \" ", "a"), " x ");
}

TEST(cookie, decode_uri_component_rejects_what_javascript_rejects) {
  EXPECT_EQ(decode_uri_component("s%3Aabc"), "s:abc");
  EXPECT_EQ(decode_uri_component("%c3%a9"), "\xC3\xA9");
  EXPECT_EQ(decode_uri_component("%F0%9F%98%80"), "\xF0\x9F\x98\x80");
  for (const char* bad : {"%", "%2", "%zz", "%C3", "%C0%AF", "%ED%A0%80", "%F4%90%80%80", "%80", "%C3A"})
    EXPECT_EQ(decode_uri_component(bad), std::nullopt) << bad;
}

TEST(cookie, encode_uri_component_matches_javascript) {
  EXPECT_EQ(encode_uri_component("s:a+b/c=d e"), "s%3Aa%2Bb%2Fc%3Dd%20e");
  EXPECT_EQ(encode_uri_component("-_.!~*'()"), "-_.!~*'()");
  EXPECT_EQ(encode_uri_component("\xC3\xA9"), "%C3%A9");
  EXPECT_THROW(encode_uri_component("\xC3"), std::invalid_argument);
}

// Builds our options from a vector's JavaScript options; false when a value has a type the
// typed C++ options cannot express (a number for sameSite, say).
bool to_options(const boost::json::object& js, set_cookie_options& o) {
  for (const auto& kv : js) {
    const auto& v = kv.value();
    const std::string_view k = kv.key();
    if (k == "maxAge") {
      if (!v.is_number()) return false;
      o.max_age_seconds = (long long)std::floor(v.to_number<double>());
    } else if (k == "originalMaxAge") {
      // not a serialize option
    } else if (k == "domain" || k == "path" || k == "priority") {
      if (!v.is_string()) return false;
      (k == "domain" ? o.domain : k == "path" ? o.path : o.priority) = str(v);
    } else if (k == "expires") {
      if (v.is_null()) continue;
      if (!v.is_string()) return false;
      auto t = parse_date(v.as_string());
      if (!t) return false;
      o.expires = *t;
    } else if (k == "httpOnly" || k == "secure" || k == "partitioned") {
      if (!v.is_bool()) return false;
      (k == "httpOnly" ? o.http_only : k == "secure" ? o.secure : o.partitioned) = v.as_bool();
    } else if (k == "sameSite") {
      if (v.is_bool()) o.same_site = v.as_bool();
      else if (v.is_string()) o.same_site = str(v);
      else return false;
    } else {
      return false;
    }
  }
  return true;
}

TEST(cookie, serializes_like_node_cookie_package) {
  const auto vectors = load_fixture("cookie_serialize_vectors.json");
  std::size_t checked = 0;
  for (const auto& item : vectors) {
    const auto& v = item.as_object();
    set_cookie_options o;
    if (!to_options(v.at("options").as_object(), o)) continue;
    const std::string name = str(v.at("name")), value = str(v.at("value"));
    SCOPED_TRACE(name + "=" + value + " " + boost::json::serialize(v.at("options")));
    if (const auto* want = v.if_contains("result")) {
      EXPECT_EQ(serialize_set_cookie(name, value, o), str(*want));
    } else {
      try {
        serialize_set_cookie(name, value, o);
        ADD_FAILURE() << "expected " << str(v.at("error"));
      } catch (const invalid_cookie& e) {
        EXPECT_EQ(std::string(e.what()), str(v.at("error")));
      }
    }
    ++checked;
  }
  EXPECT_GE(checked, 100u);
}

}  // namespace
}  // namespace sessionkit::test
