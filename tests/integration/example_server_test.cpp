// End-to-end tests of the example servers over real HTTP: the same scenarios against each of
// sessionkit-example (Boost.Beast), sessionkit-example-httplib and sessionkit-example-restinio
// (see example_binaries.hpp), which serve the same app with the same flags.
//
// The binary stands in for this Express app (see the seeds):
//   app.use(session({ secret: 'Rs89I67YEA55cLMgi0t6oyr8568e6KtD', resave: false,
//                     saveUninitialized: true }));   // MemoryStore, cookie connect.sid
//   GET /memory-store-counter  -> "count is N"
//   GET /session-destroy       -> req.session.destroy(); "Session Destroyed!"
// so every expectation below is what express-session 1.18 does for the same
// requests (express-session-spec.md sections 1, 3 and 4). Signatures are
// checked with an HMAC computed here, independently of the library.

#include "example_binaries.hpp"
#include "support/child_process.hpp"
#include "support/cookie_signature.hpp"
#include "support/redis_server.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <csignal>
#include <cstddef>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

namespace st = sessionkit::test;
using namespace std::chrono_literals;
using st::example_binary;
using st::header_list;

const std::string default_secret = "Rs89I67YEA55cLMgi0t6oyr8568e6KtD";
const std::string cookie_name = "connect.sid";
constexpr std::string_view counter_path = "/memory-store-counter";
constexpr std::string_view destroy_path = "/session-destroy";
constexpr std::string_view destroyed_body = "Session Destroyed!";
constexpr std::string_view default_attributes = "; Path=/; HttpOnly";

std::string count_body(int n)
{
    return "count is " + std::to_string(n);
}

// ---------------------------------------------------------------------------
// Independent cookie-signature implementation (spec 1.1), used to check the
// server's cookies and to forge our own.

using sessionkit::test::base64;
using sessionkit::test::signature_of;

std::string sign(std::string_view value, std::string_view secret)
{
    return std::string(value) + "." + signature_of(value, secret);
}

// JavaScript's encodeURIComponent for bytes (our inputs are ASCII).
std::string encode_uri_component(std::string_view s, bool lower_hex = false)
{
    static constexpr std::string_view unreserved = "-_.!~*'()";
    const char* hex = lower_hex ? "0123456789abcdef" : "0123456789ABCDEF";
    std::string out;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) != 0 || unreserved.find(ch) != std::string_view::npos) {
            out += ch;
        } else {
            out += '%';
            out += hex[c >> 4U];
            out += hex[c & 15U];
        }
    }
    return out;
}

// Every byte as %XX, even letters: still a valid encoding of the same value.
std::string encode_every_byte(std::string_view s)
{
    std::string out;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        out += '%';
        out += "0123456789ABCDEF"[c >> 4U];
        out += "0123456789ABCDEF"[c & 15U];
    }
    return out;
}

// Strict percent-decoding: nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s)
{
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) {
            return std::nullopt;
        }
        const int hi = hex(s[i + 1]);
        const int lo = hex(s[i + 2]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

// The cookie value express-session would send for `id`: encodeURIComponent("s:" + sign(id)).
std::string wire_value(std::string_view id, std::string_view secret)
{
    return encode_uri_component("s:" + sign(id, secret));
}

// One character replaced by a different one from the same alphabet.
std::string with_char_changed(std::string s, std::size_t at)
{
    s.at(at) = s[at] == 'A' ? 'B' : 'A';
    return s;
}

std::string random_id()
{
    static constexpr std::string_view chars =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::random_device rd;
    std::string id;
    for (int i = 0; i < 32; ++i) {
        id += chars[rd() % chars.size()];
    }
    return id;
}

std::string regex_escape(std::string_view s)
{
    std::string out;
    for (const char c : s) {
        if (std::string_view(".^$|()[]{}*+?\\/-").find(c) != std::string_view::npos) {
            out += '\\';
        }
        out += c;
    }
    return out;
}

// ---------------------------------------------------------------------------
// Reading the server's Set-Cookie.

struct issued_cookie {
    std::string name;
    std::string id;
    std::string signature;   // decoded: 43 chars of standard base64
    std::string value;       // exactly as on the wire (URL-encoded)
    std::string attributes;  // everything after the value, e.g. "; Path=/; HttpOnly"

    [[nodiscard]] header_list as_header() const { return {{"Cookie", name + "=" + value}}; }
};

// Splits a session Set-Cookie. Only the value's shape is checked here:
// s%3A, a 32-char id, '.', and a 43-char signature whose only escapes are
// %2B and %2F (the only characters encodeURIComponent changes in it).
std::optional<issued_cookie> parse_set_cookie(const std::string& header, const std::string& name)
{
    // libstdc++ compiles regexes through a shared locale cache that is not thread-safe (TSan
    // sees it in the multi-client tests): one at a time.
    static std::mutex regex_mutex;
    std::smatch m;
    {
        std::lock_guard lock(regex_mutex);
        const std::regex shape("^" + regex_escape(name) +
                               R"(=(s%3A([A-Za-z0-9_-]{32})\.((?:[A-Za-z0-9]|%2B|%2F){43}))(;.*)?$)");
        if (!std::regex_match(header, m, shape)) {
            return std::nullopt;
        }
    }
    auto signature = percent_decode(m[3].str());
    if (!signature) {
        return std::nullopt;
    }
    return issued_cookie{name, m[2].str(), *signature, m[1].str(), m[4].str()};
}

// The response a request gets when it starts a new session on the counter:
// 200, "count is 1", and exactly one Set-Cookie in express-session's format
// whose signature verifies with `secret`.
::testing::AssertionResult is_new_session(
    const st::response& r, const std::string& secret, issued_cookie* out = nullptr,
    const std::string& name = cookie_name,
    std::optional<std::string_view> attributes = default_attributes)
{
    if (r.status != 200 || r.body != count_body(1)) {
        return ::testing::AssertionFailure() << "expected 200 \"count is 1\", got " << describe(r);
    }
    if (r.set_cookies.size() != 1) {
        return ::testing::AssertionFailure()
               << "expected exactly one Set-Cookie, got " << describe(r);
    }
    auto c = parse_set_cookie(r.set_cookies.front(), name);
    if (!c) {
        return ::testing::AssertionFailure() << "malformed session cookie: " << describe(r);
    }
    if (attributes && c->attributes != *attributes) {
        return ::testing::AssertionFailure() << "expected attributes \"" << *attributes
                                             << "\", got \"" << c->attributes << "\"";
    }
    if (c->signature != signature_of(c->id, secret)) {
        return ::testing::AssertionFailure()
               << "signature " << c->signature << " of id " << c->id
               << " does not verify with secret \"" << secret << "\"";
    }
    // Exactly encodeURIComponent: upper-case hex, nothing else escaped.
    if (c->value != wire_value(c->id, secret)) {
        return ::testing::AssertionFailure()
               << "value " << c->value << " is not " << wire_value(c->id, secret);
    }
    if (out != nullptr) {
        *out = std::move(*c);
    }
    return ::testing::AssertionSuccess();
}

// A loaded session without maxAge or rolling: the count moves on and, as in
// express-session, no Set-Cookie is sent again.
::testing::AssertionResult continues(const st::response& r, int expected_count)
{
    if (r.status != 200 || r.body != count_body(expected_count) || !r.set_cookies.empty()) {
        return ::testing::AssertionFailure() << "expected 200 \"" << count_body(expected_count)
                                             << "\" without Set-Cookie, got " << describe(r);
    }
    return ::testing::AssertionSuccess();
}

header_list session_cookie(const std::string& value)
{
    return {{"Cookie", cookie_name + "=" + value}};
}

bool is_4xx_status_line(const std::string& data)
{
    static const std::regex status_line(R"(^HTTP/1\.[01] 4[0-9]{2}[ \r])");
    return std::regex_search(data, status_line);
}

std::size_t occurrences(std::string_view haystack, std::string_view needle)
{
    std::size_t n = 0;
    for (auto pos = haystack.find(needle); pos != std::string_view::npos;
         pos = haystack.find(needle, pos + needle.size())) {
        ++n;
    }
    return n;
}

bool contains(std::string_view haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string_view::npos;
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// ---------------------------------------------------------------------------
// Fixture: one example server per test on a free port, for each framework.

class example_server : public ::testing::TestWithParam<example_binary> {
protected:
    /// Flags added after "--port 0"; fixtures for other configurations override this.
    [[nodiscard]] virtual std::vector<std::string> extra_args() const { return {}; }
    /// The secret the server signs with.
    [[nodiscard]] virtual std::string signing_secret() const { return default_secret; }

    void SetUp() override
    {
        std::vector<std::string> args{"--port", "0"};
        for (auto& a : extra_args()) {
            args.push_back(std::move(a));
        }
        server_ = std::make_unique<st::child_process>(GetParam().path, std::move(args));
        address_ = server_->wait_for_listening(10s);
        port_ = address_.port;
    }

    // Every test also checks that the server survived it and exits cleanly.
    void TearDown() override
    {
        if (!server_) {
            return;
        }
        const auto status = server_->terminate(10s);
        EXPECT_TRUE(status.success()) << "server on SIGTERM: " << status << "\nstderr:\n"
                                      << server_->stderr_text();
    }

    st::response counter(const header_list& headers = {}) const
    {
        return st::get(port_, counter_path, headers);
    }
    st::response counter(const st::cookie_jar& jar) const { return counter(jar.headers()); }

    // A new session whose signature contains '+', so the cases about '+'
    // and URL-safe base64 always have something to bite on. About half of
    // all signatures qualify.
    ::testing::AssertionResult new_session_with_plus(issued_cookie& out) const
    {
        for (int attempt = 0; attempt < 64; ++attempt) {
            auto result = is_new_session(counter(), signing_secret(), &out);
            if (!result) {
                return result;
            }
            if (contains(out.signature, "+")) {
                return ::testing::AssertionSuccess();
            }
        }
        return ::testing::AssertionFailure() << "no signature with '+' in 64 sessions";
    }

    std::unique_ptr<st::child_process> server_;
    st::listen_address address_;
    std::uint16_t port_ = 0;
};

// ---------------------------------------------------------------------------

// Guards the helpers above with the vectors from spec 1.5, so a failure
// below is the server's and not the test's.
TEST(signing_helpers, match_cookie_signature_vectors)
{
    EXPECT_EQ(base64(std::string_view("")), "");
    EXPECT_EQ(base64(std::string_view("f")), "Zg==");
    EXPECT_EQ(base64(std::string_view("fo")), "Zm8=");
    EXPECT_EQ(base64(std::string_view("foo")), "Zm9v");
    EXPECT_EQ(base64(std::string_view("foob")), "Zm9vYg==");

    EXPECT_EQ(sign("apple", "keyboard cat"), "apple.D8Y+pkTAmeR0PobOhY4G97PRW+j7bUnP/5m6/On1MCU");
    EXPECT_EQ(wire_value("apple", "keyboard cat"),
              "s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU");
    EXPECT_EQ(wire_value("%", "keyboard cat"),
              "s%3A%25.kzQ6x52kKVdF35Qh62AWk4ZekS28K5XYCXKa%2FOTZ01g");
    EXPECT_EQ(wire_value("/foo", "keyboard cat"),
              "s%3A%2Ffoo.paEKBtAHbV5s1IB8B2zPnzAgYmmnRPIqObW4VRYj%2FMQ");
    EXPECT_EQ(sign("apple", "s\xC3\xA9" "cret"),
              "apple.2DK0iZg3TuBfYld2yptc4B9kFCUzH3ovdapcUKnCpuI");

    EXPECT_EQ(percent_decode("s%3Aa%2Bb%2f").value_or("<malformed>"), "s:a+b/");
    EXPECT_FALSE(percent_decode("%ZZ").has_value());
    EXPECT_FALSE(percent_decode("abc%4").has_value());
    EXPECT_FALSE(percent_decode("abc%").has_value());

    const auto parsed = parse_set_cookie(
        "connect.sid=s%3AAAECAwQFBgcICQoLDA0ODxAREhMUFRYX."
        "N0Id4opwqhaAYcoIYSsRkO1j3rAafXluGboH3Nk7dVc; Path=/; HttpOnly",
        "connect.sid");
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->id, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX");
    EXPECT_EQ(parsed->signature, signature_of(parsed->id, "keyboard cat"));
    EXPECT_EQ(parsed->attributes, "; Path=/; HttpOnly");
}

TEST_P(example_server, announces_the_bound_port_on_stdout)
{
    EXPECT_NE(port_, 0);
    EXPECT_EQ(address_.line,
              GetParam().program + " listening on http://127.0.0.1:" + std::to_string(port_));
    // The announcement is the first line.
    EXPECT_EQ(server_->stdout_text().rfind(address_.line + "\n", 0), 0U)
        << server_->stdout_text();
}

TEST_P(example_server, counter_counts_per_session)
{
    st::cookie_jar jar;
    const auto first = counter(jar);
    issued_cookie cookie;
    ASSERT_TRUE(is_new_session(first, default_secret, &cookie));
    jar.store(first);
    ASSERT_EQ(jar.value(cookie_name), cookie.value);

    EXPECT_TRUE(continues(counter(jar), 2));
    EXPECT_TRUE(continues(counter(jar), 3));
    EXPECT_EQ(jar.size(), 1U);
}

TEST_P(example_server, client_without_cookies_always_gets_one)
{
    std::set<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        issued_cookie cookie;
        ASSERT_TRUE(is_new_session(counter(), default_secret, &cookie)) << "request " << i;
        EXPECT_TRUE(ids.insert(cookie.id).second) << "id reused: " << cookie.id;
    }
}

TEST_P(example_server, session_destroy_starts_the_counter_over)
{
    st::cookie_jar a;
    st::cookie_jar b;
    issued_cookie first_a;
    auto r = counter(a);
    ASSERT_TRUE(is_new_session(r, default_secret, &first_a));
    a.store(r);
    ASSERT_TRUE(continues(counter(a), 2));
    r = counter(b);
    ASSERT_TRUE(is_new_session(r, default_secret));
    b.store(r);

    // express-session 1.x sends no expiring cookie on destroy.
    const auto destroyed = st::get(port_, destroy_path, a.headers());
    EXPECT_EQ(destroyed.status, 200U);
    EXPECT_EQ(destroyed.body, destroyed_body);
    EXPECT_TRUE(destroyed.set_cookies.empty()) << describe(destroyed);

    // Only a's session is gone.
    EXPECT_TRUE(continues(counter(b), 2));

    // The old cookie now names nothing: a new session with a new id.
    issued_cookie second_a;
    r = counter(a);
    ASSERT_TRUE(is_new_session(r, default_secret, &second_a));
    EXPECT_NE(second_a.id, first_a.id);
    a.store(r);
    EXPECT_TRUE(continues(counter(a), 2));

    // Destroying a session that was never stored is harmless and sets no cookie.
    const auto anonymous = st::get(port_, destroy_path);
    EXPECT_EQ(anonymous.status, 200U);
    EXPECT_EQ(anonymous.body, destroyed_body);
    EXPECT_TRUE(anonymous.set_cookies.empty()) << describe(anonymous);
}

TEST_P(example_server, set_cookie_has_the_express_session_format)
{
    const auto r = counter();
    ASSERT_EQ(r.status, 200U);
    ASSERT_EQ(r.body, count_body(1));
    ASSERT_EQ(r.set_cookies.size(), 1U) << describe(r);
    const std::string& header = r.set_cookies.front();

    static const std::regex format(
        R"(^connect\.sid=s%3A[A-Za-z0-9_-]{32}\.(?:[A-Za-z0-9]|%2B|%2F){43}; Path=/; HttpOnly$)");
    EXPECT_TRUE(std::regex_match(header, format)) << header;

    const auto cookie = parse_set_cookie(header, cookie_name);
    ASSERT_TRUE(cookie.has_value()) << header;
    const auto decoded = percent_decode(cookie->value);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, "s:" + cookie->id + "." + cookie->signature);
    EXPECT_EQ(cookie->signature.size(), 43U);
    EXPECT_EQ(cookie->signature, signature_of(cookie->id, default_secret));
    EXPECT_EQ(cookie->value, encode_uri_component(*decoded));

    // The server accepts the cookie we compute ourselves for its id.
    EXPECT_TRUE(continues(counter(session_cookie(wire_value(cookie->id, default_secret))), 2));
}

TEST_P(example_server, rejected_cookies_start_a_new_session)
{
    issued_cookie valid;
    ASSERT_TRUE(new_session_with_plus(valid));
    const std::string& v = valid.value;
    const std::string enc_sig = encode_uri_component(valid.signature);
    std::string url_safe_sig = valid.signature;
    std::replace(url_safe_sig.begin(), url_safe_sig.end(), '+', '-');
    std::replace(url_safe_sig.begin(), url_safe_sig.end(), '/', '_');

    struct bad_case {
        std::string name;
        header_list headers;
    };
    const std::vector<bad_case> cases{
        {"signed with a wrong secret", session_cookie(wire_value(valid.id, "not-the-secret"))},
        {"one signature character changed",
         session_cookie(encode_uri_component(
             "s:" + valid.id + "." + with_char_changed(valid.signature, 0)))},
        {"one id character changed",
         session_cookie(encode_uri_component(
             "s:" + with_char_changed(valid.id, 5) + "." + valid.signature))},
        {"unsigned id", session_cookie(valid.id)},
        {"id and signature without s:",
         session_cookie(encode_uri_component(valid.id + "." + valid.signature))},
        {"upper-case S: prefix", session_cookie("S%3A" + valid.id + "." + enc_sig)},
        {"truncated signature",
         session_cookie(encode_uri_component("s:" + valid.id + "." +
                                             valid.signature.substr(0, 42)))},
        {"signature missing after the dot", session_cookie("s%3A" + valid.id + ".")},
        {"no dot at all", session_cookie("s%3A" + valid.id)},
        {"only the prefix", session_cookie("s%3A")},
        {"signature padded with encoded =", session_cookie(v + "%3D")},
        {"signature padded with raw =", session_cookie(v + "=")},
        {"trailing garbage", session_cookie(v + "x")},
        {"URL-safe base64 signature",
         session_cookie(encode_uri_component("s:" + valid.id + "." + url_safe_sig))},
        {"malformed percent-encoding", session_cookie("s%3A%ZZ" + valid.id + "." + enc_sig)},
        {"percent-encoded invalid UTF-8", session_cookie("s%3A%FF" + valid.id + "." + enc_sig)},
        {"unbalanced quote", session_cookie("\"" + v)},
        {"oversized value (16 KiB)", session_cookie("s%3A" + std::string(16 * 1024 - 4, 'A'))},
        {"empty value", session_cookie("")},
        {"empty Cookie header", {{"Cookie", ""}}},
        {"cookie name in other case", {{"Cookie", "Connect.sid=" + v}}},
        // Only the first connect.sid counts, even when a later one is valid.
        {"garbage first, valid second",
         {{"Cookie", "connect.sid=garbage; connect.sid=" + v}}},
        {"wrong secret first, valid second",
         {{"Cookie", "connect.sid=" + wire_value(valid.id, "not-the-secret") +
                         "; connect.sid=" + v}}},
        // Repeated Cookie lines are one list joined with "; ", as in Node.
        {"two Cookie lines, garbage first",
         {{"Cookie", "connect.sid=garbage"}, {"Cookie", "connect.sid=" + v}}},
    };

    std::set<std::string> ids{valid.id};
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const auto r = counter(c.headers);
        issued_cookie fresh;
        ASSERT_TRUE(is_new_session(r, default_secret, &fresh));
        EXPECT_TRUE(ids.insert(fresh.id).second) << "id not fresh: " << fresh.id;
    }

    // None of that touched the real session...
    EXPECT_TRUE(continues(counter(valid.as_header()), 2));

    // ...and the server still counts normally.
    st::cookie_jar jar;
    auto r = counter(jar);
    ASSERT_TRUE(is_new_session(r, default_secret));
    jar.store(r);
    EXPECT_TRUE(continues(counter(jar), 2));
    EXPECT_TRUE(continues(counter(jar), 3));
}

// Cookie headers that cookie.parse 0.7.2 reads as the valid session cookie.
TEST_P(example_server, accepted_cookie_variants_continue_the_session)
{
    issued_cookie valid;
    ASSERT_TRUE(new_session_with_plus(valid));
    const std::string& v = valid.value;
    const std::string plain = "s:" + valid.id + "." + valid.signature;

    struct good_case {
        std::string name;
        header_list headers;
    };
    const std::vector<good_case> cases{
        {"as issued", valid.as_header()},
        {"valid first, garbage second", {{"Cookie", "connect.sid=" + v + "; connect.sid=garbage"}}},
        {"valid first, wrong secret second",
         {{"Cookie", "connect.sid=" + v + "; connect.sid=" + wire_value(valid.id, "other")}}},
        {"among other cookies", {{"Cookie", "a=b; connect.sid=" + v + "; c=d"}}},
        {"after a segment without =", {{"Cookie", "junk; connect.sid=" + v}}},
        {"spaces and tabs around name and value",
         {{"Cookie", "a=b;  connect.sid \t= " + v + " ;c=d"}}},
        {"double-quoted value", {{"Cookie", "connect.sid=\"" + v + "\""}}},
        // decodeURIComponent runs only when there is a '%': a raw value is used as is.
        {"not URL-encoded at all", session_cookie(plain)},
        // '+' is a literal plus for decodeURIComponent, never a space.
        {"only the colon encoded", session_cookie("s%3A" + valid.id + "." + valid.signature)},
        {"lower-case hex escapes", session_cookie(encode_uri_component(plain, true))},
        {"every byte percent-encoded", session_cookie(encode_every_byte(plain))},
        {"two Cookie lines, valid first",
         {{"Cookie", "connect.sid=" + v}, {"Cookie", "connect.sid=garbage"}}},
        {"two Cookie lines, valid in the second",
         {{"Cookie", "a=b"}, {"Cookie", "connect.sid=" + v}}},
    };

    int count = 1;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_TRUE(continues(counter(c.headers), ++count));
    }
}

TEST_P(example_server, request_headers_up_to_16_kib_are_accepted)
{
    issued_cookie valid;
    ASSERT_TRUE(is_new_session(counter(), default_secret, &valid));

    // About 15.5 KiB of header fields in total, the session cookie included.
    header_list headers = valid.as_header();
    for (int i = 0; i < 15; ++i) {
        headers.emplace_back("X-Filler-" + std::to_string(i), std::string(1000, 'x'));
    }
    EXPECT_TRUE(continues(counter(headers), 2));
}

TEST_P(example_server, keep_alive_connection_serves_many_requests)
{
    st::connection conn(port_);
    st::cookie_jar jar;

    auto r = conn.get(counter_path);
    ASSERT_TRUE(is_new_session(r, default_secret));
    ASSERT_TRUE(r.keep_alive);
    jar.store(r);

    for (int n = 2; n <= 6; ++n) {
        r = conn.get(counter_path, jar.headers());
        EXPECT_TRUE(continues(r, n));
        ASSERT_TRUE(r.keep_alive) << "server closed the connection after request " << n;
    }

    // Sessions belong to cookies, not to connections.
    EXPECT_TRUE(is_new_session(conn.get(counter_path), default_secret));

    r = conn.get(destroy_path, jar.headers());
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, destroyed_body);
    EXPECT_TRUE(is_new_session(conn.get(counter_path, jar.headers()), default_secret));
    EXPECT_TRUE(conn.is_open());
}

TEST_P(example_server, pipelined_requests_are_answered_in_order)
{
    const std::string request = "GET /memory-store-counter HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    const std::string last =
        "GET /memory-store-counter HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    const auto result = st::raw_exchange(port_, request + last);

    EXPECT_EQ(occurrences(result.data, "HTTP/1.1 200 "), 2U) << result.data;
    EXPECT_EQ(occurrences(result.data, count_body(1)), 2U) << result.data;
    EXPECT_TRUE(result.closed_by_peer) << "Connection: close was not honoured";
}

// RFC 9112 section 3.2.2: a server must accept the absolute form; Node routes it by its path.
TEST_P(example_server, absolute_form_targets_are_routed_and_get_a_session_by_their_path)
{
    const std::string authority = "127.0.0.1:" + std::to_string(port_);
    const auto first = st::raw_exchange(
        port_, "GET http://" + authority + "/memory-store-counter HTTP/1.1\r\nHost: " + authority +
                   "\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(first.data.rfind("HTTP/1.1 200 ", 0), 0U) << first.data;
    EXPECT_NE(first.data.find(count_body(1)), std::string::npos) << first.data;
    const std::size_t cookie_at = first.data.find("connect.sid=");
    ASSERT_NE(cookie_at, std::string::npos) << first.data;
    const std::string cookie = first.data.substr(cookie_at, first.data.find(';', cookie_at) - cookie_at);
    const auto second = st::raw_exchange(
        port_, "GET http://" + authority + "/memory-store-counter?x=1 HTTP/1.1\r\nHost: " + authority +
                   "\r\nCookie: " + cookie + "\r\nConnection: close\r\n\r\n");
    EXPECT_NE(second.data.find(count_body(2)), std::string::npos) << second.data;
    // No path at all is the root.
    const auto root = st::raw_exchange(
        port_, "GET http://" + authority + " HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(root.data.rfind("HTTP/1.1 200 ", 0), 0U) << root.data;
}

TEST_P(example_server, malformed_requests_get_a_4xx_and_the_server_keeps_serving)
{
    struct bad_request {
        std::string name;
        std::string bytes;
    };
    static constexpr char binary_junk[] = "\x00\x01\x02\xff junk\r\n\r\n";
    const std::vector<bad_request> cases{
        {"garbage line", "GARBAGE\r\n\r\n"},
        {"binary junk", std::string(binary_junk, sizeof binary_junk - 1)},
        {"header line without colon",
         "GET /memory-store-counter HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"},
        {"non-numeric Content-Length",
         "GET /memory-store-counter HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n"},
        {"conflicting Content-Length",
         "GET /memory-store-counter HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
         "Content-Length: 2\r\n\r\nab"},
        {"bad chunk size",
         "GET /memory-store-counter HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         "ZZZ\r\n\r\n"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const auto result = st::raw_exchange(port_, c.bytes);
        if (GetParam().answers_unparseable_requests) {
            EXPECT_TRUE(is_4xx_status_line(result.data)) << "got: " << result.data;
        } else {
            EXPECT_TRUE(result.data.empty() || is_4xx_status_line(result.data))
                << "got: " << result.data;
        }
        // After an unparseable message the connection cannot be resynchronised.
        EXPECT_TRUE(result.closed_by_peer) << "server left the connection open";
    }

    {
        SCOPED_TRACE("request cut off, client half-closes");
        const auto result = st::raw_exchange(
            port_, "GET /memory-store-counter HTTP/1.1\r\nHost: x\r\nCook", 3s, true);
        EXPECT_TRUE(result.data.empty() || is_4xx_status_line(result.data))
            << "got: " << result.data;
        EXPECT_TRUE(result.closed_by_peer);
    }

    EXPECT_TRUE(is_new_session(counter(), default_secret));
}

TEST_P(example_server, huge_request_header_is_refused_without_a_5xx)
{
    const std::string request = "GET /memory-store-counter HTTP/1.1\r\nHost: x\r\nCookie: a=" +
                                std::string(256 * 1024, 'A') + "\r\n\r\n";
    const auto result = st::raw_exchange(port_, request);
    // The server may answer 431/400 or just close; a reset can even swallow
    // the answer. What it must not do is process it, fail, or hang.
    EXPECT_TRUE(result.data.empty() || is_4xx_status_line(result.data))
        << "got: " << result.data.substr(0, 200);
    EXPECT_TRUE(result.closed_by_peer);

    EXPECT_TRUE(is_new_session(counter(), default_secret));
}

TEST_P(example_server, idle_connection_does_not_block_other_clients)
{
    st::connection idle(port_);  // connected, never sends a byte
    EXPECT_TRUE(is_new_session(counter(), default_secret));
    EXPECT_TRUE(is_new_session(counter(), default_secret));
}

TEST_P(example_server, unknown_route_is_404)
{
    EXPECT_EQ(st::get(port_, "/no-such-route").status, 404U);
}

TEST_P(example_server, sigterm_exits_zero)
{
    const auto status = server_->terminate(10s);
    EXPECT_TRUE(status.success()) << status << "\nstderr:\n" << server_->stderr_text();
}

TEST_P(example_server, sigint_exits_zero)
{
    server_->send_signal(SIGINT);
    const auto status = server_->wait(10s);
    EXPECT_TRUE(status.success()) << status << "\nstderr:\n" << server_->stderr_text();
}

// An idle keep-alive client must not hold up shutdown.
TEST_P(example_server, sigterm_with_an_idle_keep_alive_connection_exits_promptly)
{
    st::connection conn(port_);
    ASSERT_TRUE(is_new_session(conn.get(counter_path), default_secret));
    const auto status = server_->terminate(5s);
    EXPECT_TRUE(status.success()) << status << "\nstderr:\n" << server_->stderr_text();
}

// ---------------------------------------------------------------------------
// Secret rotation: --secret A --secret B signs with A and accepts A and B.

const std::string secret_a = "rotation-new-secret-A-7d1f0c9e2b";
const std::string secret_b = "rotation-old-secret-B-3a8e6f4d1c";

class example_server_rotation : public example_server {
protected:
    [[nodiscard]] std::vector<std::string> extra_args() const override
    {
        return {"--secret", secret_a, "--secret", secret_b};
    }
    [[nodiscard]] std::string signing_secret() const override { return secret_a; }
};

TEST_P(example_server_rotation, first_secret_signs_and_every_secret_verifies)
{
    issued_cookie issued;
    ASSERT_TRUE(is_new_session(counter(), secret_a, &issued));
    EXPECT_NE(issued.signature, signature_of(issued.id, secret_b));

    // The same session under the old secret is still accepted.
    EXPECT_TRUE(continues(counter(session_cookie(wire_value(issued.id, secret_b))), 2));
    EXPECT_TRUE(continues(counter(session_cookie(wire_value(issued.id, secret_a))), 3));

    // The default secret is not configured any more.
    issued_cookie fresh;
    ASSERT_TRUE(is_new_session(counter(session_cookie(wire_value(issued.id, default_secret))),
                               secret_a, &fresh));
    EXPECT_NE(fresh.id, issued.id);

    // A correctly signed (with B) id the store does not know: new id, signed with A.
    const std::string unknown = random_id();
    ASSERT_TRUE(is_new_session(counter(session_cookie(wire_value(unknown, secret_b))), secret_a,
                               &fresh));
    EXPECT_NE(fresh.id, unknown);

    EXPECT_TRUE(continues(counter(issued.as_header()), 4));
}

// ---------------------------------------------------------------------------
// Other options.

class example_server_named : public example_server {
protected:
    [[nodiscard]] std::vector<std::string> extra_args() const override
    {
        return {"--name", "sid"};
    }
};

TEST_P(example_server_named, uses_the_configured_cookie_name)
{
    issued_cookie issued;
    ASSERT_TRUE(is_new_session(counter(), default_secret, &issued, "sid"));
    // The same value under the default name is not our cookie.
    EXPECT_TRUE(is_new_session(counter(session_cookie(issued.value)), default_secret, nullptr,
                               "sid"));
    EXPECT_TRUE(continues(counter({{"Cookie", "sid=" + issued.value}}), 2));
}

class example_server_max_age : public example_server {
protected:
    [[nodiscard]] std::vector<std::string> extra_args() const override
    {
        return {"--max-age", "60000"};
    }
};

TEST_P(example_server_max_age, sets_expires_and_resends_the_cookie_when_modified)
{
    static const std::regex attributes(
        R"(^; Path=/; Expires=((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} )"
        R"((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} )"
        R"([0-9]{2}:[0-9]{2}:[0-9]{2} GMT); HttpOnly$)");

    const auto first = counter();
    issued_cookie issued;
    ASSERT_TRUE(is_new_session(first, default_secret, &issued, cookie_name, std::nullopt));
    std::smatch m;
    ASSERT_TRUE(std::regex_match(issued.attributes, m, attributes)) << issued.attributes;

    std::tm tm{};
    const std::string expires_text = m[1].str();
    ASSERT_NE(::strptime(expires_text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm), nullptr);
    const auto remaining = ::timegm(&tm) - std::time(nullptr);
    // Milliseconds are truncated, so at most 60 s; a loaded machine may lose a few.
    EXPECT_LE(remaining, 60) << expires_text;
    EXPECT_GE(remaining, 50) << expires_text;

    // A loaded, modified session with an expiry gets its cookie again (spec 3.7).
    const auto second = counter(issued.as_header());
    EXPECT_EQ(second.status, 200U);
    EXPECT_EQ(second.body, count_body(2));
    ASSERT_EQ(second.set_cookies.size(), 1U) << describe(second);
    const auto again = parse_set_cookie(second.set_cookies.front(), cookie_name);
    ASSERT_TRUE(again.has_value()) << second.set_cookies.front();
    EXPECT_EQ(again->value, issued.value);
    EXPECT_TRUE(std::regex_match(again->attributes, attributes)) << again->attributes;
}

class example_server_rolling : public example_server {
protected:
    [[nodiscard]] std::vector<std::string> extra_args() const override { return {"--rolling"}; }
};

TEST_P(example_server_rolling, resends_the_cookie_on_every_response)
{
    issued_cookie issued;
    ASSERT_TRUE(is_new_session(counter(), default_secret, &issued));
    for (int n = 2; n <= 3; ++n) {
        const auto r = counter(issued.as_header());
        EXPECT_EQ(r.status, 200U);
        EXPECT_EQ(r.body, count_body(n));
        ASSERT_EQ(r.set_cookies.size(), 1U) << describe(r);
        EXPECT_EQ(r.set_cookies.front(),
                  cookie_name + "=" + issued.value + std::string(default_attributes));
    }
}

class example_server_threads : public example_server {
protected:
    [[nodiscard]] std::vector<std::string> extra_args() const override
    {
        return {"--threads", "4"};
    }
};

TEST_P(example_server_threads, concurrent_clients_keep_separate_counts)
{
    constexpr int clients = 4;
    constexpr int requests = 25;
    std::mutex mutex;
    std::vector<std::string> failures;
    std::set<std::string> ids;

    auto client = [&] {
        try {
            st::cookie_jar jar;
            const auto first = counter(jar);
            issued_cookie issued;
            if (auto ok = is_new_session(first, default_secret, &issued); !ok) {
                std::lock_guard lock(mutex);
                failures.emplace_back(ok.message());
                return;
            }
            jar.store(first);
            {
                std::lock_guard lock(mutex);
                ids.insert(issued.id);
            }
            for (int n = 2; n <= requests; ++n) {
                if (auto ok = continues(counter(jar), n); !ok) {
                    std::lock_guard lock(mutex);
                    failures.emplace_back(ok.message());
                    return;
                }
            }
        } catch (const std::exception& e) {
            std::lock_guard lock(mutex);
            failures.emplace_back(e.what());
        }
    };

    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
        threads.emplace_back(client);
    }
    for (auto& t : threads) {
        t.join();
    }
    for (const auto& f : failures) {
        ADD_FAILURE() << f;
    }
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(clients));
}

// ---------------------------------------------------------------------------
// Command line.

using sessionkit::test::free_port;  // tests/support/redis_server.hpp

class example_cli : public ::testing::TestWithParam<example_binary> {};

TEST_P(example_cli, explicit_port_is_used)
{
    const auto port = free_port();
    st::child_process server(GetParam().path, {"--port", std::to_string(port)});
    const auto address = server.wait_for_listening(10s);
    EXPECT_EQ(address.line,
              GetParam().program + " listening on http://127.0.0.1:" + std::to_string(port));
    EXPECT_TRUE(is_new_session(st::get(port, counter_path), default_secret));
    const auto status = server.terminate(10s);
    EXPECT_TRUE(status.success()) << status;
}

TEST_P(example_cli, help_prints_usage_and_exits_zero)
{
    st::child_process p(GetParam().path, {"--help"});
    const auto status = p.wait(10s);
    EXPECT_TRUE(status.success()) << status << "\nstderr:\n" << p.stderr_text();
    const std::string out = p.stdout_text();
    EXPECT_TRUE(contains(lower(out), "usage")) << out;
    EXPECT_TRUE(contains(out, "--port")) << out;
    EXPECT_TRUE(contains(out, "--secret")) << out;
    EXPECT_FALSE(contains(out, "listening on")) << out;
}

TEST_P(example_cli, unknown_flag_fails_with_a_message_on_stderr)
{
    st::child_process p(GetParam().path, {"--no-such-flag"});
    const auto status = p.wait(10s);
    EXPECT_TRUE(status.exited && status.code != 0 && !status.timed_out) << status;
    EXPECT_TRUE(contains(p.stderr_text(), "--no-such-flag")) << "stderr: " << p.stderr_text();
    EXPECT_FALSE(contains(p.stdout_text(), "listening on")) << p.stdout_text();
}

TEST_P(example_cli, invalid_option_values_fail_with_a_message_on_stderr)
{
    // "--port 0" first, so a server that wrongly starts cannot take port 3000.
    const std::vector<std::vector<std::string>> command_lines{
        {"--port", "0", "--port"},
        {"--port", "0", "--port", "not-a-number"},
        {"--port", "0", "--port", "65536"},
        {"--port", "0", "--save-uninitialized", "maybe"},
        {"--port", "0", "--store", "no-such-store"},
        {"--port", "0", "--threads", "many"},
        {"--port", "0", "--max-age", "soon"},
        {"--port", "0", "--secret"},
    };
    for (const auto& args : command_lines) {
        std::string joined;
        for (const auto& a : args) {
            joined += " " + a;
        }
        SCOPED_TRACE("sessionkit-example" + joined);
        st::child_process p(GetParam().path, args);
        const auto status = p.wait(10s);
        EXPECT_TRUE(status.exited && status.code != 0 && !status.timed_out) << status;
        EXPECT_FALSE(p.stderr_text().empty());
        EXPECT_FALSE(contains(p.stdout_text(), "listening on")) << p.stdout_text();
    }
}

TEST_P(example_cli, warns_when_signing_with_the_public_demo_secret)
{
    {
        st::child_process p(GetParam().path, {"--port", "0"});
        p.wait_for_listening();
        p.terminate();
        EXPECT_TRUE(contains(p.stderr_text(), "demo secret")) << "stderr: " << p.stderr_text();
        EXPECT_TRUE(contains(p.stderr_text(), "--secret")) << "stderr: " << p.stderr_text();
    }
    {
        st::child_process p(GetParam().path, {"--port", "0", "--secret", std::string(40, 'k')});
        p.wait_for_listening();
        p.terminate();
        EXPECT_FALSE(contains(p.stderr_text(), "demo secret")) << "stderr: " << p.stderr_text();
    }
}

TEST_P(example_cli, store_urls_in_errors_never_show_a_password)
{
    // Every form a store URL can take, each with a secret in it and something wrong.
    for (const std::string url : {"unix:/var/run/redis/redis.sock?password=SECRET&db=abc",
                                  "unix:/var/run/redis/redis.sock?db=abc&password=SECRET",
                                  "redis://user:SECRET@host:notaport", "redis://SECRET@host:0",
                                  "rediss://user:SECRET@host:notaport",
                                  "redis-sentinel://:SECRET@h1:26379,h2:26379/mymaster?password=SECRET",
                                  "redis-cluster://user:SECRET@h1:7000,h2:7001?password=SECRET",
                                  "redis-sentinel://h1:26379/m?sentinel_password=SECRET&db=x"}) {
        SCOPED_TRACE(url);
        st::child_process p(GetParam().path, {"--port", "0", "--store", url});
        const auto status = p.wait(10s);
        EXPECT_TRUE(status.exited && status.code != 0 && !status.timed_out) << status;
        EXPECT_FALSE(p.stderr_text().empty());
        EXPECT_FALSE(contains(p.stderr_text(), "SECRET")) << p.stderr_text();
        EXPECT_FALSE(contains(p.stdout_text(), "SECRET")) << p.stdout_text();
    }
}

// ---------------------------------------------------------------------------
// Every scenario above, against every example server.

INSTANTIATE_TEST_SUITE_P(frameworks, example_server, ::testing::ValuesIn(st::example_binaries()),
                         st::framework_name);
INSTANTIATE_TEST_SUITE_P(frameworks, example_server_rotation,
                         ::testing::ValuesIn(st::example_binaries()), st::framework_name);
INSTANTIATE_TEST_SUITE_P(frameworks, example_server_named,
                         ::testing::ValuesIn(st::example_binaries()), st::framework_name);
INSTANTIATE_TEST_SUITE_P(frameworks, example_server_max_age,
                         ::testing::ValuesIn(st::example_binaries()), st::framework_name);
INSTANTIATE_TEST_SUITE_P(frameworks, example_server_rolling,
                         ::testing::ValuesIn(st::example_binaries()), st::framework_name);
INSTANTIATE_TEST_SUITE_P(frameworks, example_server_threads,
                         ::testing::ValuesIn(st::example_binaries()), st::framework_name);
INSTANTIATE_TEST_SUITE_P(frameworks, example_cli, ::testing::ValuesIn(st::example_binaries()),
                         st::framework_name);

}  // namespace
