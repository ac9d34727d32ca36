// Issue 13 (hardening, round 2): each test failed before its fix.

#include "engine_harness.hpp"

#include <sessionkit/adapter.hpp>
#include <sessionkit/cookie.hpp>
#include <sessionkit/log.hpp>
#include <sessionkit/record.hpp>
#include <sessionkit/signer.hpp>
#include <sessionkit/time.hpp>

namespace sessionkit::test {
namespace {

// Item 8: express-session drops keys for which `key in session` is true, Object.prototype's
// members included, when it loads a record; the rewritten record lacks them.
TEST(hardening_round2, object_prototype_keys_are_dropped_on_load) {
  record::parts parts;
  ASSERT_TRUE(record::decode(
      R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":1,"constructor":1,"toString":2,"valueOf":3,"hasOwnProperty":4,"isPrototypeOf":5,"propertyIsEnumerable":6,"toLocaleString":7,"__defineGetter__":8,"__defineSetter__":9,"__lookupGetter__":10,"__lookupSetter__":11,"zz":12})",
      parts));
  EXPECT_EQ(record::data_text(parts.data), R"({"count":1,"zz":12})");
}

// Item 9: Express's `trust proxy` compares the forwarded protocol case-sensitively.
TEST(hardening_round2, express_trust_proxy_protocol_is_case_sensitive) {
  EXPECT_TRUE(adapter::express_protocol_is_https("https"));
  EXPECT_TRUE(adapter::express_protocol_is_https(" https , http"));
  EXPECT_TRUE(adapter::express_protocol_is_https("https,http"));
  EXPECT_FALSE(adapter::express_protocol_is_https("HTTPS"));
  EXPECT_FALSE(adapter::express_protocol_is_https("Https"));
  EXPECT_FALSE(adapter::express_protocol_is_https("http, https"));
  EXPECT_FALSE(adapter::express_protocol_is_https(""));
  EXPECT_FALSE(adapter::express_protocol_is_https("   "));
  const request_info upper = adapter::describe_request("/", "", "HTTPS", false, true);
  EXPECT_FALSE(upper.adapter_secure);
  const request_info lower = adapter::describe_request("/", "", "https", false, true);
  EXPECT_TRUE(lower.adapter_secure);
  // express-session's own `proxy: true` path lower-cases (and sessionkit follows it there).
  EXPECT_TRUE(forwarded_proto_is_https("HTTPS"));
}

// Item 11: Node reads header bytes as Latin-1, so a validly signed cookie carrying raw UTF-8
// bytes never verifies (the HMAC input is the Latin-1 reading, re-encoded as UTF-8).
TEST(hardening_round2, raw_non_ascii_cookie_bytes_are_read_as_latin1) {
  engine_harness h(test_options());
  const std::string id = "caf\xC3\xA9";  // "café" in UTF-8, sent raw (not percent-encoded)
  EXPECT_FALSE(h.eng.read_session_id("connect.sid=s:" + sign(id, "keyboard cat")));
  // What Node sees: U+00C3 U+00A9, whose UTF-8 is C3 83 C2 A9; signed that way it verifies.
  const std::string as_node_reads = "caf\xC3\x83\xC2\xA9";
  const std::string signature = sign(as_node_reads, "keyboard cat").substr(as_node_reads.size());
  EXPECT_EQ(h.eng.read_session_id("connect.sid=s:" + id + signature), as_node_reads);
  // Percent-encoded UTF-8 is decoded as UTF-8, as before.
  EXPECT_EQ(h.eng.read_session_id("connect.sid=" + encode_uri_component("s:" + sign(id, "keyboard cat"))), id);
  // A raw byte that is not UTF-8 at all is one Latin-1 character too.
  EXPECT_EQ(find_cookie("a=\xFF", "a"), "\xC3\xBF");
}

// Item 6: a browser-session cookie made under an old secret is re-signed with the first one
// when asked, so the old secret can be dropped; without the option nothing is sent (as Node).
TEST(hardening_round2, cookies_signed_with_an_old_secret_can_be_resigned) {
  options o = test_options();
  o.secrets = {std::string(32, 'o')};
  engine_harness old_server(o);
  const auto made = counting_request(old_server, "");
  ASSERT_TRUE(made.set_cookie);
  for (bool resign : {false, true}) {
    SCOPED_TRACE(resign);
    o.secrets = {std::string(32, 'n'), std::string(32, 'o')};
    o.resign_old_secrets = resign;
    o.resave = false;
    engine_harness new_server(o);
    new_server.store->records = old_server.store->records;
    const auto read = new_server.request(made.cookie_header());  // reads, modifies nothing
    EXPECT_EQ(read.id, made.id);
    EXPECT_EQ(read.set_cookie.has_value(), resign);
    if (!read.set_cookie) continue;
    EXPECT_EQ(read.cookie_header(), "connect.sid=" + encode_uri_component("s:" + sign(made.id, std::string(32, 'n'))));
    // Signed with the first secret now: the next request sends nothing more.
    EXPECT_FALSE(new_server.request(read.cookie_header()).set_cookie);
    // And the old secret can go.
    o.secrets = {std::string(32, 'n')};
    engine_harness rotated(o);
    rotated.store->records = new_server.store->records;
    EXPECT_EQ(rotated.request(read.cookie_header()).id, made.id);
  }
}

// Item 7: the path of an absolute-form target is its path, as Node's parseurl gives it.
TEST(hardening_round2, absolute_form_targets_have_their_path) {
  EXPECT_EQ(adapter::path_of_target("/a/b?q=1"), "/a/b");
  EXPECT_EQ(adapter::path_of_target("http://127.0.0.1:3000/memory-store-counter"), "/memory-store-counter");
  EXPECT_EQ(adapter::path_of_target("https://example.com/a?b=c#d"), "/a");
  EXPECT_EQ(adapter::path_of_target("http://example.com"), "/");
  EXPECT_EQ(adapter::path_of_target("http://example.com?x=1"), "/");
  EXPECT_EQ(adapter::path_of_target("*"), "*");
  EXPECT_EQ(adapter::path_of_target("/odd://path"), "/odd://path");
  EXPECT_EQ(adapter::absolute_form_prefix("http://h:1/x"), 10u);
  EXPECT_EQ(adapter::absolute_form_prefix("/x"), 0u);
  EXPECT_EQ(adapter::absolute_form_prefix("1http://h/x"), 0u);
  const request_info info = adapter::describe_request("http://h/memory-store-counter?x", "", "", false, false);
  EXPECT_EQ(info.path, "/memory-store-counter");
}

// Item 3: dates as JavaScript's Date writes and reads them over its whole range (vectors from
// Node 20: `new Date(ms).toISOString()`, `.toUTCString()`).
TEST(hardening_round2, dates_follow_javascript_over_its_whole_range) {
  struct vector {
    long long ms;
    const char* iso;
    const char* http;
  };
  for (const vector& v : std::initializer_list<vector>{
           {8'640'000'000'000'000, "+275760-09-13T00:00:00.000Z", "Sat, 13 Sep 275760 00:00:00 GMT"},
           {-8'640'000'000'000'000, "-271821-04-20T00:00:00.000Z", "Tue, 20 Apr -271821 00:00:00 GMT"},
           {253'402'300'800'000, "+010000-01-01T00:00:00.000Z", "Sat, 01 Jan 10000 00:00:00 GMT"},
           {253'402'300'799'999, "9999-12-31T23:59:59.999Z", "Fri, 31 Dec 9999 23:59:59 GMT"},
           {-62'167'219'200'000, "0000-01-01T00:00:00.000Z", "Sat, 01 Jan 0000 00:00:00 GMT"},
           {-62'167'219'200'001, "-000001-12-31T23:59:59.999Z", "Fri, 31 Dec -0001 23:59:59 GMT"},
           {1'000'000'000'000'000, "+033658-09-27T01:46:40.000Z", "Fri, 27 Sep 33658 01:46:40 GMT"},
           {901'764'300'000'000, "+030545-10-09T19:20:00.000Z", "Sat, 09 Oct 30545 19:20:00 GMT"},
           {-1'000'000'000'000'000, "-029719-04-05T22:13:20.000Z", "Tue, 05 Apr -29719 22:13:20 GMT"},
           {0, "1970-01-01T00:00:00.000Z", "Thu, 01 Jan 1970 00:00:00 GMT"}}) {
    SCOPED_TRACE(v.iso);
    const timestamp t{std::chrono::milliseconds{v.ms}};
    EXPECT_EQ(format_iso_date(t), v.iso);
    EXPECT_EQ(format_http_date(t), v.http);
    EXPECT_EQ(parse_date(v.iso), t);  // what we write, we (and Node) read back
  }
  // Past the range, and the forms Date.parse refuses, are no dates.
  EXPECT_FALSE(parse_date("+275760-09-13T00:00:00.001Z"));
  EXPECT_FALSE(parse_date("-000000-01-01T00:00:00.000Z"));
  EXPECT_FALSE(parse_date("30546-10-09T00:00:00.000Z"));
}

TEST(hardening_round2, expiries_past_year_9999_stay_readable) {
  options o = test_options();
  o.cookie.max_age = std::chrono::milliseconds(900'000'000'000'000);  // ~28,500 years
  engine_harness h(o);
  const auto first = counting_request(h, "");
  ASSERT_TRUE(first.set_cookie);
  EXPECT_NE(h.store->records.at(first.id).json.find("\"expires\":\"+0"), std::string::npos)
      << h.store->records.at(first.id).json;
  const auto second = counting_request(h, first.cookie_header());
  EXPECT_EQ(second.id, first.id);  // the same session, not a new one per request
  EXPECT_NE(h.store->records.at(first.id).json.find("\"count\":2"), std::string::npos);
}

TEST(hardening_round2, impossible_expiries_are_refused_at_configuration) {
  options o = test_options();
  o.cookie.max_age = std::chrono::milliseconds(9'000'000'000'000'000);
  try {
    engine e(o);
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("maxAge"), std::string::npos) << e.what();
  }
  o.cookie.max_age.reset();
  o.cookie.expires = timestamp{std::chrono::milliseconds{9'000'000'000'000'000}};
  EXPECT_THROW(engine{o}, std::invalid_argument);
}

TEST(hardening_round2, stored_lifetimes_are_kept_in_range) {
  engine_harness h(test_options());
  // A stored originalMaxAge of ~31,700 years: revived, and rewritten with an expanded year.
  h.store->records["long"] = {
      R"({"cookie":{"originalMaxAge":999999999999999,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"count":1})",
      std::nullopt};
  const std::string long_cookie = "connect.sid=" + encode_uri_component("s:" + sign("long", "keyboard cat"));
  const auto kept = counting_request(h, long_cookie);
  EXPECT_EQ(kept.id, "long");
  const std::string& record = h.store->records.at("long").json;
  const std::size_t at = record.find("\"expires\":\"");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(record[at + 11], '+') << record;
  EXPECT_TRUE(parse_date(record.substr(at + 11, 27))) << record;
  // One that would end past JavaScript's last date is no session Node could serve: a new one.
  h.store->records["past"] = {
      R"({"cookie":{"originalMaxAge":8639000000000000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"count":1})",
      std::nullopt};
  const auto replaced = counting_request(h, "connect.sid=" + encode_uri_component("s:" + sign("past", "keyboard cat")));
  EXPECT_NE(replaced.id, "past");
}

// Item 4: no password in any form of store URL survives redaction.
TEST(hardening_round2, redact_url_masks_every_form_of_password) {
  EXPECT_EQ(redact_url("unix:/run/redis.sock?password=SECRET&db=abc"), "unix:/run/redis.sock?password=***&db=abc");
  EXPECT_EQ(redact_url("unix:/run/redis.sock?db=1&user=u&password=SECRET"), "unix:/run/redis.sock?db=1&user=u&password=***");
  EXPECT_EQ(redact_url("redis://user:SECRET@host:6379/2"), "redis://***@host:6379/2");
  EXPECT_EQ(redact_url("rediss://:SECRET@host:6380"), "rediss://***@host:6380");
  EXPECT_EQ(redact_url("redis-sentinel://u:SECRET@h1:1,h2:2/master?sentinel_password=SECRET2&db=3"),
            "redis-sentinel://***@h1:1,h2:2/master?sentinel_password=***&db=3");
  EXPECT_EQ(redact_url("redis-cluster://u:SE@CR/ET@h1:7000"), "redis-cluster://***@h1:7000");
  EXPECT_EQ(redact_url("redis://host:6379?Password=SECRET&authToken=T"), "redis://host:6379?Password=***&authToken=***");
  EXPECT_EQ(redact_url("redis://host:6379/0"), "redis://host:6379/0");
  EXPECT_EQ(redact_url("memory"), "memory");
  EXPECT_EQ(redact_url("SECRET@host"), "***@host");
}

}  // namespace
}  // namespace sessionkit::test
