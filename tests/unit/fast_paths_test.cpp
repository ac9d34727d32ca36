// The session layer's speed tricks (issue 20), each against the plain path it stands in for:
// the connection's cookie memo against verifying every time, the word-wise constant-time
// comparison against memcmp, the inline small callables of unique_function against what they
// wrap, and the flat-object reader that fills an existing object against the one that builds it.

#include "detail/constant_time.hpp"
#include "detail/plain_json.hpp"

#include <sessionkit/detail/unique_function.hpp>
#include <sessionkit/engine.hpp>
#include <sessionkit/json.hpp>
#include <sessionkit/record.hpp>
#include <sessionkit/signer.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>
#include <random>
#include <string>

namespace sessionkit::test {
namespace {

options with_secrets(std::vector<std::string> secrets) {
  options o;
  o.secrets = std::move(secrets);
  return o;
}

std::string cookie_header(std::string_view signed_value) {
  return "other=1; connect.sid=s%3A" + std::string(signed_value) + "; last=2";
}

void expect_same(const std::optional<signed_cookie>& a, const std::optional<signed_cookie>& b) {
  ASSERT_EQ(a.has_value(), b.has_value());
  if (!a) return;
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ(a->signature, b->signature);
  EXPECT_EQ(a->old_secret, b->old_secret);
}

TEST(cookie_memo, a_remembered_cookie_reads_as_verifying_it_again) {
  const engine e(with_secrets({"new secret", "old secret"}));
  const std::string by_first = signer({"new secret"}).sign("id-one");
  const std::string by_old = signer({"old secret"}).sign("id-two");
  for (const std::string& value : {by_first, by_old}) {
    cookie_memo memo;
    const auto plain = e.read_cookie(cookie_header(value));
    ASSERT_TRUE(plain);
    expect_same(e.read_cookie(cookie_header(value), &memo), plain);  // verified, remembered
    expect_same(e.read_cookie(cookie_header(value), &memo), plain);  // from the memo
  }
}

TEST(cookie_memo, only_the_exact_value_is_taken_from_it) {
  const engine e(with_secrets({"secret"}));
  const std::string good = signer({"secret"}).sign("alice");
  cookie_memo memo;
  ASSERT_TRUE(e.read_cookie(cookie_header(good), &memo));
  // The same id with any other signature, a value one byte shorter or longer, another id with
  // the remembered signature: all verified as always, and refused.
  std::string forged = good;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  for (const std::string& bad : {forged, good.substr(0, good.size() - 1), good + "A",
                                 "bob" + good.substr(good.find('.'))}) {
    EXPECT_FALSE(e.read_cookie(cookie_header(bad), &memo)) << bad;
    EXPECT_FALSE(e.read_cookie(cookie_header(bad))) << bad;
  }
  // A refused value does not push the good one out.
  expect_same(e.read_cookie(cookie_header(good), &memo), e.read_cookie(cookie_header(good)));
}

TEST(cookie_memo, another_engine_does_not_trust_what_one_engine_remembered) {
  const engine first(with_secrets({"secret one"}));
  const engine second(with_secrets({"secret two"}));
  const std::string value = signer({"secret one"}).sign("alice");
  cookie_memo memo;
  ASSERT_TRUE(first.read_cookie(cookie_header(value), &memo));
  EXPECT_FALSE(second.read_cookie(cookie_header(value), &memo));
  EXPECT_TRUE(first.read_cookie(cookie_header(value), &memo));
}

TEST(cookie_memo, a_value_without_an_id_is_refused_even_when_signed) {
  const engine e(with_secrets({"secret"}));
  const std::string empty_id = signer({"secret"}).sign("");
  cookie_memo memo;
  EXPECT_FALSE(e.read_cookie(cookie_header(empty_id), &memo));
  EXPECT_FALSE(e.read_cookie(cookie_header(empty_id), &memo));
  EXPECT_FALSE(e.read_signed_value("s:" + empty_id, &memo));
}

TEST(cookie_memo, the_header_transport_uses_it_too) {
  options o = with_secrets({"secret"});
  const engine e(std::move(o));
  const std::string value = signer({"secret"}).sign("alice");
  cookie_memo memo;
  const auto plain = e.read_signed_value("Bearer s:" + value);
  ASSERT_TRUE(plain);
  expect_same(e.read_signed_value("Bearer s:" + value, &memo), plain);
  expect_same(e.read_signed_value("s:" + value, &memo), plain);
  memo.clear();
  expect_same(e.read_signed_value("s:" + value, &memo), plain);
}

TEST(constant_time, agrees_with_memcmp) {
  std::mt19937 random(20);
  for (std::size_t size = 0; size <= 100; ++size) {
    std::string a(size, '\0');
    for (char& c : a) c = static_cast<char>(random());
    EXPECT_TRUE(detail::equal_in_constant_time(a.data(), a.data(), size));
    for (std::size_t at = 0; at < size; ++at) {
      for (unsigned char flip : {0x01, 0x80, 0xFF}) {
        std::string b = a;
        b[at] = static_cast<char>(static_cast<unsigned char>(b[at]) ^ flip);
        EXPECT_EQ(detail::equal_in_constant_time(a.data(), b.data(), size), std::memcmp(a.data(), b.data(), size) == 0)
            << "size " << size << ", byte " << at;
      }
    }
  }
}

// Counts the live copies of a callable, to see that nothing is lost or destroyed twice.
struct counted {
  static inline int live = 0;
  int* calls;
  std::array<char, 8> padding{};
  explicit counted(int* c) : calls(c) { ++live; }
  counted(const counted& o) : calls(o.calls) { ++live; }
  counted(counted&& o) noexcept : calls(o.calls) { ++live; }
  ~counted() { --live; }
  int operator()(int x) { return ++*calls + x; }
};

struct big_counted : counted {
  using counted::counted;
  std::array<char, 128> more{};
};

template <class Callable>
void check_unique_function() {
  int calls = 0;
  {
    detail::unique_function<int(int)> f{Callable(&calls)};
    EXPECT_EQ(counted::live, 1);
    EXPECT_EQ(f(10), 11);
    detail::unique_function<int(int)> g(std::move(f));
    EXPECT_FALSE(f);
    EXPECT_EQ(g(10), 12);
    detail::unique_function<int(int)> h;
    h = std::move(g);
    EXPECT_EQ(h(0), 3);
    EXPECT_EQ(counted::live, 1);
    h = Callable(&calls);  // replaces: the old one is destroyed
    EXPECT_EQ(counted::live, 1);
    h = nullptr;
    EXPECT_EQ(counted::live, 0);
    EXPECT_FALSE(h);
    h = Callable(&calls);
  }
  EXPECT_EQ(counted::live, 0);
}

TEST(unique_function, small_callables_inside_and_large_ones_on_the_heap_behave_alike) {
  check_unique_function<counted>();
  check_unique_function<big_counted>();
  // Move-only callables, as store completions are.
  auto owned = std::make_unique<int>(41);
  detail::unique_function<int()> f([p = std::move(owned)] { return *p + 1; });
  detail::unique_function<int()> g(std::move(f));
  EXPECT_EQ(g(), 42);
}

TEST(plain_flat_object, reading_into_an_object_gives_what_building_one_gives) {
  for (std::string_view text : {R"({})", R"({"count":1})", R"({"a":"x","b":true,"c":false,"d":null,"e":-5})",
                                R"({"a":1.5})", R"({"a":[1]})", R"({"a":1,"a":2})", R"({"a":"\n"})", R"(nope)"}) {
    boost::json::object into;
    into["old"] = "member";
    const auto built = detail::parse_plain_flat_object(text);
    const bool read = detail::parse_plain_flat_object_into(text, into);
    EXPECT_EQ(read, built.has_value()) << text;
    if (built) EXPECT_EQ(boost::json::value(into), *built) << text;
    else EXPECT_EQ(into.at("old"), "member") << text;  // unchanged when it is not plain
  }
}

}  // namespace
}  // namespace sessionkit::test

namespace sessionkit::test {
namespace {

TEST(record_buffer, a_record_written_into_a_handed_back_buffer_is_the_same_record) {
  session_cookie cookie;
  cookie.path = "/";
  cookie.http_only = true;
  cookie.set_max_age(std::chrono::milliseconds(60'000));
  boost::json::object data;
  data["count"] = 1;
  const std::string text = record::data_text(data);
  const std::string plain = record::encode(cookie, data, {}, &text);
  std::string dirty(4000, 'x');
  record::give_back(std::move(dirty));
  EXPECT_EQ(record::encode(cookie, data, {}, &text), plain);  // written into the spare buffer
  EXPECT_EQ(record::encode(cookie, data, {}, &text), plain);  // none spare: a new one
  record::give_back(std::string(100'000, 'y'));               // too big to keep
  EXPECT_EQ(record::encode(cookie, data, {}), plain);
}

}  // namespace
}  // namespace sessionkit::test

namespace sessionkit::test {
namespace {

// A string with nothing to escape is copied in one go; adding one escaped byte sends the same
// text through the byte-by-byte path: both must write it alike.
TEST(json_string, the_plain_copy_writes_what_the_escaping_path_writes) {
  std::mt19937 random(7);
  for (int round = 0; round < 2000; ++round) {
    std::string text(random() % 40, '\0');
    for (char& c : text) c = static_cast<char>(0x20 + random() % 0x60);  // printable, maybe " or backslash
    if (round % 3 == 0) text += "\xC3\xA9";                               // UTF-8 passes through
    std::string fast, slow;
    append_json_string(fast, text);
    append_json_string(slow, text + "\n");
    fast.pop_back();
    EXPECT_EQ(fast + "\\n\"", slow) << text;
  }
}

}  // namespace
}  // namespace sessionkit::test
