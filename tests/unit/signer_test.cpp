#include <sessionkit/signer.hpp>

#include "fixtures.hpp"

#include <sessionkit/cookie.hpp>

#include <gtest/gtest.h>

namespace sessionkit::test {
namespace {

std::string secret_of(const boost::json::object& v) {
  if (const auto* s = v.if_contains("secret")) return str(*s);
  const std::string hex = str(v.at("secret_hex"));
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(char(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return bytes;
}

TEST(signer, matches_node_cookie_signature_vectors) {
  const auto vectors = load_fixture("signing_vectors.json");
  ASSERT_GE(vectors.size(), 60u);
  for (const auto& item : vectors) {
    const auto& v = item.as_object();
    const std::string secret = secret_of(v);
    const std::string value = str(v.at("value"));
    SCOPED_TRACE(value);
    EXPECT_EQ(sign(value, secret), str(v.at("signed")));
    EXPECT_EQ(unsign(str(v.at("signed")), secret), value);
    EXPECT_EQ(encode_uri_component("s:" + sign(value, secret)), str(v.at("cookie_value")));
  }
}

TEST(signer, spec_vectors) {
  EXPECT_EQ(sign("apple", "keyboard cat"), "apple.D8Y+pkTAmeR0PobOhY4G97PRW+j7bUnP/5m6/On1MCU");
  EXPECT_EQ(sign("apple", "sécret"), "apple.2DK0iZg3TuBfYld2yptc4B9kFCUzH3ovdapcUKnCpuI");
}

TEST(signer, rejects_anything_but_an_exact_match) {
  const std::string good = sign("apple", "keyboard cat");
  EXPECT_EQ(unsign(good, "keyboard cat"), "apple");
  EXPECT_FALSE(unsign(good + "=", "keyboard cat"));         // padding
  EXPECT_FALSE(unsign(good + "x", "keyboard cat"));         // trailing garbage
  EXPECT_FALSE(unsign("apple.D8Y-pkTAmeR0PobOhY4G97PRW-j7bUnP_5m6_On1MCU", "keyboard cat"));  // url-safe
  EXPECT_FALSE(unsign("apple.d8Y+pkTAmeR0PobOhY4G97PRW+j7bUnP/5m6/On1MCU", "keyboard cat"));  // case
  EXPECT_FALSE(unsign("apple", "keyboard cat"));            // no dot
  EXPECT_FALSE(unsign("", "keyboard cat"));
  EXPECT_FALSE(unsign(good, "other"));
}

TEST(signer, splits_at_the_last_dot) {
  const std::string s = sign("a.b.c", "k");
  EXPECT_EQ(unsign(s, "k"), "a.b.c");
}

TEST(signer, first_secret_signs_all_verify) {
  signer rotating({"new", "old"});
  EXPECT_EQ(rotating.sign("id"), sign("id", "new"));
  EXPECT_EQ(rotating.unsign(sign("id", "old")), "id");
  EXPECT_EQ(rotating.unsign(sign("id", "new")), "id");
  EXPECT_FALSE(rotating.unsign(sign("id", "other")));
  EXPECT_THROW(signer({}), std::invalid_argument);
}

}  // namespace
}  // namespace sessionkit::test
