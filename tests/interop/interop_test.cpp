// Interop between sessionkit-example and the Express twin app in this directory (server.js:
// express-session 1.18.2, connect-redis 10.0.0, redis 6.3.1), over real HTTP, sharing one Redis
// and one secret. Node is the reference: whatever sessionkit writes, answers or sends must be
// what Node writes, answers or sends for the same request.
//
// Every test starts its own redis-server, `node server.js` (configured by environment) and
// `sessionkit-example` (configured by flags to the same options), both on port 0. Raw Redis
// values and Set-Cookie headers are compared byte for byte; only what must differ is normalised:
// the session id (and its signature) and `expires` timestamps, and those are checked on their own
// (the signature with an HMAC computed here; `expires` within 2 s of now + maxAge, and the cookie's
// `Expires` equal to the stored `expires`).
//
//   interop_cookie         a cookie issued by one side is accepted by the other
//   interop_counter        a counter alternating between the servers counts 1..N
//   interop_data           session data written by one side reads back unchanged on both
//   interop_cookie_object  per cookie option set: the same record, Set-Cookie and TTL for a new
//                          session, and the same rewrite of either side's record
//   interop_stored_cookie  records from other writers (capitalised values, stale or
//   interop_stored_record  non-ISO expires, missing fields, key order, reserved names)
//   interop_ttl            the same TTL after the same request (new, touch, rolling, save)
//   interop_destroy        destroy on one side ends the session for the other
//   interop_secrets        secret rotation [A] -> [B, A] across the two sides
//
// Needs `npm ci` in tests/interop (scripts/test.sh runs it).

#include "support/child_process.hpp"
#include "support/cookie_signature.hpp"
#include "support/http_client.hpp"
#include "support/redis_cluster.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifndef SESSIONKIT_EXAMPLE_PATH
#error "SESSIONKIT_EXAMPLE_PATH must be the path of the sessionkit-example binary"
#endif
#ifndef SESSIONKIT_INTEROP_DIR
#error "SESSIONKIT_INTEROP_DIR must be the directory of server.js"
#endif
#ifndef SESSIONKIT_NODE_PATH
#error "SESSIONKIT_NODE_PATH must be the path of node"
#endif

namespace {

namespace st = sessionkit::test;
using namespace std::chrono_literals;
using st::header_list;

const std::string example_path = SESSIONKIT_EXAMPLE_PATH;
const std::string interop_dir = SESSIONKIT_INTEROP_DIR;
const std::string node_path = SESSIONKIT_NODE_PATH;
const std::string seed_secret = "Rs89I67YEA55cLMgi0t6oyr8568e6KtD";
constexpr std::string_view counter_path = "/redis-store-counter";
constexpr std::string_view read_path = "/session-read";
constexpr std::string_view data_path = "/session-data";
constexpr std::string_view destroy_path = "/session-destroy";
const std::string default_cookie_json =
    R"({"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"})";

std::string count_body(int n)
{
    return "count is " + std::to_string(n);
}

// What both sides store for a new session without maxAge after `count` counter requests.
std::string stored_json(int count)
{
    return R"({"cookie":)" + default_cookie_json + R"(,"count":)" + std::to_string(count) + "}";
}

long long now_ms()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// ---------------------------------------------------------------------------
// Cookie signatures (cookie-signature: base64(HMAC-SHA256) without padding), computed here.

using sessionkit::test::base64;
using sessionkit::test::signature_of;

// encodeURIComponent for what a signed id can contain.
std::string uri_encode(std::string_view s)
{
    std::string out;
    for (char c : s) {
        switch (c) {
        case ':': out += "%3A"; break;
        case '+': out += "%2B"; break;
        case '/': out += "%2F"; break;
        case '=': out += "%3D"; break;
        default: out += c;
        }
    }
    return out;
}

std::string uri_decode_signature(std::string s)
{
    for (const auto& [from, to] : {std::pair{"%2B", "+"}, std::pair{"%2F", "/"}}) {
        for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos)) {
            s.replace(pos, 3, to);
        }
    }
    return s;
}

// `name=s%3A<id>.<sig>` exactly as express-session puts it in Set-Cookie.
std::string cookie_pair(std::string_view id, std::string_view secret,
                        std::string_view name = "connect.sid")
{
    const std::string value = "s:" + std::string(id) + "." + signature_of(id, secret);
    return std::string(name) + "=" + uri_encode(value);
}

header_list with_cookie(const std::string& pair, header_list extra = {})
{
    extra.emplace_back("Cookie", pair);
    return extra;
}

// A fresh session id in express-session's shape (24 random bytes, base64url: 32 characters).
std::string random_id()
{
    std::array<unsigned char, 24> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
    std::string id = base64(bytes);
    for (char& c : id) {
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    return id;
}

// ---------------------------------------------------------------------------
// Dates: Date#toISOString ("2026-01-02T03:04:05.678Z") and Date#toUTCString (IMF-fixdate).

std::optional<long long> parse_iso_ms(const std::string& iso)
{
    std::tm tm{};
    int ms = 0;
    int consumed = 0;
    if (std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &consumed) != 7 ||
        consumed != static_cast<int>(iso.size()) || iso.size() != 24) {
        return std::nullopt;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<long long>(timegm(&tm)) * 1000 + ms;
}

std::string format_iso(long long ms)
{
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

std::string format_http_date(long long ms)
{
    static constexpr std::array<const char*, 7> days{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr std::array<const char*, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days.at(tm.tm_wday),
                  tm.tm_mday, months.at(tm.tm_mon), tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

// An IMF-fixdate in its canonical form, as milliseconds (whole seconds).
std::optional<long long> parse_http_date(const std::string& s)
{
    static constexpr std::array<const char*, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char wday[4] = {};
    char mon[4] = {};
    std::tm tm{};
    if (std::sscanf(s.c_str(), "%3[A-Za-z], %2d %3s %4d %2d:%2d:%2d GMT", wday, &tm.tm_mday, mon,
                    &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 7) {
        return std::nullopt;
    }
    const auto m = std::find_if(months.begin(), months.end(),
                                [&](const char* name) { return std::string_view(name) == mon; });
    if (m == months.end()) {
        return std::nullopt;
    }
    tm.tm_mon = static_cast<int>(m - months.begin());
    tm.tm_year -= 1900;
    const long long ms = static_cast<long long>(timegm(&tm)) * 1000;
    if (format_http_date(ms) != s) {
        return std::nullopt;  // not canonical (weekday, padding)
    }
    return ms;
}

// ---------------------------------------------------------------------------
// Normalising what must differ between two sides.

// A stored record with the cookie's `expires` ISO string replaced by <EXPIRES>.
//
// With `max_age`, an `originalMaxAge` up to 50 ms below it is also read as `max_age`: express-session
// re-derives originalMaxAge on every touch as (Date.now() + maxAge) - Date.now(), two clock reads,
// so Node stores 1 ms less whenever the millisecond ticks in between (its own tests accept both,
// spec 5.3), and the loss accumulates over requests. `original_max_age` keeps the value actually
// stored; sessionkit does not drift, so its value must be exactly the one it loaded (maxAge for a
// new session).
struct record_view {
    std::string text;
    std::optional<long long> expires;           // the replaced timestamp
    std::optional<long long> original_max_age;  // as stored, when a number
};

record_view normalise_record(const std::string& value, std::optional<long long> max_age = std::nullopt)
{
    record_view v{value, std::nullopt, std::nullopt};
    const auto cookie = v.text.find(R"("cookie":{)");
    if (cookie == std::string::npos) {
        return v;
    }
    const std::string oma_key = R"("originalMaxAge":)";
    if (const auto at = v.text.find(oma_key, cookie);
        at != std::string::npos && at < v.text.find('}', cookie)) {
        const auto start = at + oma_key.size();
        auto end = start;
        while (end < v.text.size() && (std::isdigit(static_cast<unsigned char>(v.text[end])) != 0 ||
                                       v.text[end] == '-')) {
            ++end;
        }
        if (end > start) {
            const long long n = std::stoll(v.text.substr(start, end - start));
            v.original_max_age = n;
            if (max_age && n <= *max_age && n >= *max_age - 50) {
                v.text.replace(start, end - start, std::to_string(*max_age));
            }
        }
    }
    const auto end = v.text.find('}', cookie);
    const std::string key = R"("expires":")";
    const auto at = v.text.find(key, cookie);
    if (at == std::string::npos || at > end) {
        return v;
    }
    const auto start = at + key.size();
    const auto close = v.text.find('"', start);
    if (close == std::string::npos) {
        return v;
    }
    const auto ms = parse_iso_ms(v.text.substr(start, close - start));
    if (!ms) {
        return v;
    }
    v.expires = ms;
    v.text = v.text.substr(0, start) + "<EXPIRES>" + v.text.substr(close);
    return v;
}

// A Set-Cookie with the signed id replaced by s%3A<ID>.<SIG> (after checking the signature with
// `secret`) and the Expires date by <EXPIRES>.
struct set_cookie_view {
    std::string text;                  // the whole header when it is not a valid session cookie
    std::string id;                    // empty when the signature does not verify
    std::string pair;                  // name=value
    std::optional<long long> expires;  // Expires, in ms
};

set_cookie_view normalise_set_cookie(const std::string& header, std::string_view name,
                                     std::string_view secret)
{
    set_cookie_view v{header, "", "", std::nullopt};
    const std::string prefix = std::string(name) + "=s%3A";
    if (header.rfind(prefix, 0) != 0) {
        return v;
    }
    const auto semi = header.find(';');
    const std::string value = header.substr(prefix.size(), semi == std::string::npos
                                                               ? std::string::npos
                                                               : semi - prefix.size());
    const auto dot = value.find('.');
    if (dot != 32) {
        return v;
    }
    const std::string id = value.substr(0, dot);
    if (uri_decode_signature(value.substr(dot + 1)) != signature_of(id, secret)) {
        return v;
    }
    v.id = id;
    v.pair = header.substr(0, semi);
    std::string attributes = semi == std::string::npos ? "" : header.substr(semi);
    const std::string key = "; Expires=";
    if (const auto at = attributes.find(key); at != std::string::npos) {
        const auto start = at + key.size();
        const auto end = attributes.find(';', start);
        const auto date = attributes.substr(start, end == std::string::npos ? end : end - start);
        if (auto ms = parse_http_date(date)) {
            v.expires = ms;
            attributes = attributes.substr(0, start) + "<EXPIRES>" +
                         (end == std::string::npos ? "" : attributes.substr(end));
        }
    }
    v.text = std::string(name) + "=s%3A<ID>.<SIG>" + attributes;
    return v;
}

// `expires` within 2 s of the time of the request + `max_age`.
::testing::AssertionResult expires_near(std::optional<long long> expires, long long request_start,
                                        long long request_end, long long max_age)
{
    if (!expires) {
        return ::testing::AssertionFailure() << "no expires";
    }
    if (*expires < request_start + max_age - 2000 || *expires > request_end + max_age + 2000) {
        return ::testing::AssertionFailure()
               << "expires " << format_iso(*expires) << " is not within 2 s of "
               << format_iso(request_start + max_age) << " .. " << format_iso(request_end + max_age);
    }
    return ::testing::AssertionSuccess();
}

// The cookie's Expires is the stored expires, milliseconds truncated.
::testing::AssertionResult expires_matches_record(const set_cookie_view& c, const record_view& r)
{
    if (!c.expires || !r.expires) {
        return ::testing::AssertionFailure() << "missing Expires (cookie: " << c.expires.has_value()
                                             << ", record: " << r.expires.has_value() << ")";
    }
    if (*c.expires != *r.expires / 1000 * 1000) {
        return ::testing::AssertionFailure()
               << "Set-Cookie Expires " << format_http_date(*c.expires) << " but stored expires "
               << format_iso(*r.expires);
    }
    return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------
// POST with a body (the support client only does GET).

st::response post(std::uint16_t port, std::string_view target, const header_list& headers,
                  const std::string& body)
{
    namespace beast = boost::beast;
    namespace http = beast::http;
    namespace net = boost::asio;
    using error_code = boost::system::error_code;

    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    req.set(http::field::user_agent, "sessionkit-interop-tests");
    req.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : headers) {
        req.insert(name, value);
    }
    req.body() = body;
    req.prepare_payload();

    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    beast::flat_buffer buffer;
    error_code result = net::error::would_block;
    stream.expires_after(5s);
    stream.async_connect(
        net::ip::tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), port), [&](error_code ec) {
            if (ec) {
                result = ec;
                return;
            }
            http::async_write(stream, req, [&](error_code ec2, std::size_t) {
                if (ec2) {
                    result = ec2;
                    return;
                }
                http::async_read(stream, buffer, parser,
                                 [&](error_code ec3, std::size_t) { result = ec3; });
            });
        });
    ioc.run();
    if (result) {
        throw boost::system::system_error(result, "POST " + std::string(target));
    }
    auto m = parser.release();
    st::response r;
    r.status = m.result_int();
    r.reason = std::string(m.reason());
    r.version = m.version();
    r.keep_alive = m.keep_alive();
    for (const auto& f : m) {
        std::string value(f.value());
        if (f.name() == http::field::set_cookie) {
            r.set_cookies.push_back(value);
        }
        r.headers.emplace_back(std::string(f.name_string()), std::move(value));
    }
    r.body = std::move(m.body());
    error_code ignored;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    return r;
}

// ---------------------------------------------------------------------------
// The two servers, configured alike.

// express-session's options as both sides take them (unset: the option is not given at all).
struct config {
    std::vector<std::string> secrets;  // empty: the seed's secret
    std::optional<long long> max_age;
    bool rolling = false;
    bool resave = false;
    bool save_uninitialized = true;
    std::optional<std::string> secure;     // "true", "false", "auto"
    std::optional<std::string> same_site;  // "lax", "strict", "none", "true", "false"
    std::optional<bool> http_only;
    std::optional<std::string> domain;
    std::optional<std::string> path;
    std::optional<std::string> priority;  // "low", "medium", "high"
    std::optional<bool> partitioned;
    std::optional<bool> proxy;
    bool trust_proxy = false;  // Express's `trust proxy` alone (express-session's proxy unset)
    std::string name = "connect.sid";
    std::vector<std::string> sessionkit_only;  // more flags for sessionkit (e.g. --concurrency lock)

    [[nodiscard]] std::string signing_secret() const
    {
        return secrets.empty() ? seed_secret : secrets.front();
    }
};

const char* boolean(bool b)
{
    return b ? "true" : "false";
}

std::string json_string_array(const std::vector<std::string>& items)
{
    std::string out = "[";
    for (const auto& s : items) {
        if (out.size() > 1) {
            out += ",";
        }
        out += "\"";
        for (char c : s) {
            if (c == '"' || c == '\\') {
                out += '\\';
            }
            out += c;
        }
        out += "\"";
    }
    return out + "]";
}

enum class side { node, sessionkit };

const char* side_name(side s)
{
    return s == side::node ? "node" : "sessionkit";
}

class app_server {
public:
    app_server(side kind, const config& c, const std::string& redis_url) : kind_(kind)
    {
        if (kind == side::node) {
            start_node(c, redis_url);
        } else {
            start_sessionkit(c, redis_url);
        }
        port_ = process_->wait_for_listening(15s).port;
    }

    [[nodiscard]] side kind() const noexcept { return kind_; }
    [[nodiscard]] const char* name() const noexcept { return side_name(kind_); }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] std::string output() const
    {
        return std::string(name()) + " stdout:\n" + process_->stdout_text() + "\n" + name() +
               " stderr:\n" + process_->stderr_text();
    }

    st::response get(std::string_view target, const header_list& headers = {}) const
    {
        return st::get(port_, target, headers);
    }
    st::response post_data(const std::string& json, const header_list& headers = {}) const
    {
        return post(port_, data_path, headers, json);
    }
    st::response post_to(std::string_view target, const std::string& body,
                         const header_list& headers = {}) const
    {
        return post(port_, target, headers, body);
    }

private:
    void start_node(const config& c, const std::string& redis_url)
    {
        if (!std::filesystem::exists(interop_dir + "/node_modules/express-session/package.json")) {
            throw std::runtime_error("tests/interop/node_modules is missing: run `npm ci` in " +
                                     interop_dir + " (scripts/test.sh does)");
        }
        // Unset everything server.js reads, so the caller's environment cannot leak in.
        std::vector<std::string> args{"-u", "NODE_OPTIONS", "-u", "NODE_ENV"};
        for (const char* v : {"PORT", "REDIS_URL", "REDIS_CLUSTER", "SECRETS", "ROLLING", "RESAVE",
                              "SAVE_UNINITIALIZED", "MAX_AGE", "COOKIE_NAME", "SECURE", "SAME_SITE",
                              "HTTP_ONLY", "DOMAIN", "COOKIE_PATH", "PRIORITY", "PARTITIONED",
                              "PROXY", "TRUST_PROXY"}) {
            args.emplace_back("-u");
            args.emplace_back(v);
        }
        auto set = [&](const std::string& k, const std::string& v) { args.push_back(k + "=" + v); };
        set("PORT", "0");
        // A cluster goes to node-redis's cluster client, by its seed nodes.
        if (redis_url.rfind("redis-cluster://", 0) == 0) {
            set("REDIS_CLUSTER", redis_url.substr(std::string_view("redis-cluster://").size()));
        } else {
            set("REDIS_URL", redis_url);
        }
        if (!c.secrets.empty()) {
            set("SECRETS", json_string_array(c.secrets));
        }
        set("ROLLING", boolean(c.rolling));
        set("RESAVE", boolean(c.resave));
        set("SAVE_UNINITIALIZED", boolean(c.save_uninitialized));
        if (c.max_age) {
            set("MAX_AGE", std::to_string(*c.max_age));
        }
        set("COOKIE_NAME", c.name);
        if (c.secure) set("SECURE", *c.secure);
        if (c.same_site) set("SAME_SITE", *c.same_site);
        if (c.http_only) set("HTTP_ONLY", boolean(*c.http_only));
        if (c.domain) set("DOMAIN", *c.domain);
        if (c.path) set("COOKIE_PATH", *c.path);
        if (c.priority) set("PRIORITY", *c.priority);
        if (c.partitioned) set("PARTITIONED", boolean(*c.partitioned));
        if (c.proxy) set("PROXY", boolean(*c.proxy));
        if (c.trust_proxy) set("TRUST_PROXY", "true");
        args.push_back(node_path);
        args.push_back(interop_dir + "/server.js");
        process_ = std::make_unique<st::child_process>(st::find_program("env"), std::move(args));
    }

    void start_sessionkit(const config& c, const std::string& redis_url)
    {
        std::vector<std::string> args{"--port", "0", "--threads", "1", "--store", redis_url};
        for (const auto& s : c.secrets) {
            args.insert(args.end(), {"--secret", s});
        }
        args.insert(args.end(), {"--rolling", boolean(c.rolling), "--resave", boolean(c.resave),
                                 "--save-uninitialized", boolean(c.save_uninitialized), "--name",
                                 c.name});
        if (c.max_age) args.insert(args.end(), {"--max-age", std::to_string(*c.max_age)});
        if (c.secure) args.insert(args.end(), {"--secure", *c.secure});
        if (c.same_site) args.insert(args.end(), {"--same-site", *c.same_site});
        if (c.http_only) args.insert(args.end(), {"--http-only", boolean(*c.http_only)});
        if (c.domain) args.insert(args.end(), {"--domain", *c.domain});
        if (c.path) args.insert(args.end(), {"--path", *c.path});
        if (c.priority) args.insert(args.end(), {"--priority", *c.priority});
        if (c.partitioned) args.insert(args.end(), {"--partitioned", boolean(*c.partitioned)});
        if (c.proxy) {
            // proxy: true and Express's `trust proxy`, as server.js does for PROXY=true.
            args.insert(args.end(), {"--proxy", boolean(*c.proxy), "--trust-proxy", boolean(*c.proxy)});
        }
        if (c.trust_proxy) args.insert(args.end(), {"--trust-proxy", "true"});
        args.insert(args.end(), c.sessionkit_only.begin(), c.sessionkit_only.end());
        process_ = std::make_unique<st::child_process>(example_path, std::move(args));
    }

    side kind_;
    std::unique_ptr<st::child_process> process_;
    std::uint16_t port_ = 0;
};

// One Redis; the tests add the servers they need.
class interop_base : public ::testing::Test {
protected:
    void TearDown() override
    {
        if (HasFailure()) {
            for (const auto* s : started_) {
                std::printf("%s\n", s->output().c_str());
            }
        }
    }

    app_server& start(side kind, const config& c)
    {
        servers_.push_back(std::make_unique<app_server>(kind, c, redis.url()));
        started_.push_back(servers_.back().get());
        return *servers_.back();
    }

    // The usual pair: Node and sessionkit with the same options.
    void start_pair(const config& c)
    {
        cfg = c;
        node = &start(side::node, c);
        sk = &start(side::sessionkit, c);
    }

    std::set<std::string> key_set() const
    {
        const auto keys = redis.keys("*");
        return {keys.begin(), keys.end()};
    }

    // The one key that appeared since `before`.
    std::string new_key(const std::set<std::string>& before) const
    {
        std::vector<std::string> added;
        for (const auto& k : key_set()) {
            if (!before.contains(k)) {
                added.push_back(k);
            }
        }
        if (added.size() != 1) {
            ADD_FAILURE() << added.size() << " new keys in Redis, expected 1";
            return "";
        }
        return added.front();
    }

    std::string value(const std::string& key) const { return redis.get(key).value_or("<no key>"); }

    long long pttl(const std::string& key) const
    {
        const auto v = redis.command({"PTTL", key});
        return v.integer;
    }

    // Copies `from` (value and remaining TTL) to a new session id; returns the id.
    std::string clone(const std::string& from_key) const
    {
        const std::string id = random_id();
        const auto ttl = pttl(from_key);
        std::vector<std::string> args{"SET", "sess:" + id, value(from_key)};
        if (ttl > 0) {
            args.insert(args.end(), {"PX", std::to_string(ttl)});
        }
        EXPECT_FALSE(redis.command(args).error);
        return id;
    }

    // Stores `record` under a new id with `ttl_seconds`; returns the id.
    std::string put(const std::string& record, long long ttl_seconds = 3600) const
    {
        const std::string id = random_id();
        EXPECT_FALSE(
            redis.command({"SET", "sess:" + id, record, "EX", std::to_string(ttl_seconds)}).error);
        return id;
    }

    std::string pair_for(const std::string& id) const
    {
        return cookie_pair(id, cfg.signing_secret(), cfg.name);
    }

    st::redis_server redis;
    config cfg;
    app_server* node = nullptr;
    app_server* sk = nullptr;

private:
    std::vector<std::unique_ptr<app_server>> servers_;
    std::vector<const app_server*> started_;
};

// `a` and `b` within `tolerance_ms` of each other.
::testing::AssertionResult close_ttls(long long node_pttl, long long sk_pttl,
                                      long long tolerance_ms = 1000)
{
    if (node_pttl < 0 || sk_pttl < 0 || std::llabs(node_pttl - sk_pttl) > tolerance_ms) {
        return ::testing::AssertionFailure()
               << "PTTL node " << node_pttl << " ms, sessionkit " << sk_pttl << " ms";
    }
    return ::testing::AssertionSuccess();
}

// A PTTL for a TTL of `seconds` just set by connect-redis (ceil of the time left).
::testing::AssertionResult fresh_ttl(long long pttl_ms, long long seconds)
{
    if (pttl_ms <= seconds * 1000 - 2500 || pttl_ms > seconds * 1000) {
        return ::testing::AssertionFailure()
               << "PTTL " << pttl_ms << " ms, expected a fresh TTL of " << seconds << " s";
    }
    return ::testing::AssertionSuccess();
}

// ===========================================================================
// Cookies issued by one side are accepted by the other.

class interop_cookie : public interop_base {};

TEST_F(interop_cookie, node_cookie_is_accepted_by_sessionkit)
{
    start_pair({});
    const auto r1 = node->get(counter_path);
    ASSERT_EQ(r1.body, count_body(1)) << describe(r1);
    ASSERT_EQ(r1.set_cookies.size(), 1U) << describe(r1);
    const auto c = normalise_set_cookie(r1.set_cookies[0], "connect.sid", seed_secret);
    ASSERT_FALSE(c.id.empty()) << "not a validly signed session cookie: " << r1.set_cookies[0];
    EXPECT_EQ(c.text, "connect.sid=s%3A<ID>.<SIG>; Path=/; HttpOnly");
    EXPECT_EQ(c.pair, pair_for(c.id));
    const std::string key = "sess:" + c.id;
    EXPECT_EQ(value(key), stored_json(1));

    const auto r2 = sk->get(counter_path, with_cookie(c.pair));
    EXPECT_EQ(r2.status, 200U);
    EXPECT_EQ(r2.body, count_body(2)) << describe(r2);
    EXPECT_TRUE(r2.set_cookies.empty()) << describe(r2);
    EXPECT_EQ(value(key), stored_json(2));
    EXPECT_EQ(redis.keys("*"), std::vector<std::string>{key});

    const auto r3 = node->get(counter_path, with_cookie(c.pair));
    EXPECT_EQ(r3.body, count_body(3)) << describe(r3);
    EXPECT_TRUE(r3.set_cookies.empty()) << describe(r3);
    const auto r4 = sk->get(read_path, with_cookie(c.pair));
    EXPECT_EQ(r4.body, count_body(3)) << describe(r4);
    EXPECT_EQ(value(key), stored_json(3));
    EXPECT_EQ(redis.keys("*"), std::vector<std::string>{key});
}

TEST_F(interop_cookie, sessionkit_cookie_is_accepted_by_node)
{
    start_pair({});
    const auto r1 = sk->get(counter_path);
    ASSERT_EQ(r1.body, count_body(1)) << describe(r1);
    ASSERT_EQ(r1.set_cookies.size(), 1U) << describe(r1);
    const auto c = normalise_set_cookie(r1.set_cookies[0], "connect.sid", seed_secret);
    ASSERT_FALSE(c.id.empty()) << "not a validly signed session cookie: " << r1.set_cookies[0];
    EXPECT_EQ(c.text, "connect.sid=s%3A<ID>.<SIG>; Path=/; HttpOnly");
    EXPECT_EQ(c.pair, pair_for(c.id));
    const std::string key = "sess:" + c.id;
    EXPECT_EQ(value(key), stored_json(1));

    const auto r2 = node->get(counter_path, with_cookie(c.pair));
    EXPECT_EQ(r2.status, 200U);
    EXPECT_EQ(r2.body, count_body(2)) << describe(r2);
    EXPECT_TRUE(r2.set_cookies.empty()) << describe(r2);
    EXPECT_EQ(value(key), stored_json(2));
    EXPECT_EQ(redis.keys("*"), std::vector<std::string>{key});

    const auto r3 = sk->get(counter_path, with_cookie(c.pair));
    EXPECT_EQ(r3.body, count_body(3)) << describe(r3);
    EXPECT_TRUE(r3.set_cookies.empty()) << describe(r3);
    const auto r4 = node->get(read_path, with_cookie(c.pair));
    EXPECT_EQ(r4.body, count_body(3)) << describe(r4);
    EXPECT_EQ(value(key), stored_json(3));
    EXPECT_EQ(redis.keys("*"), std::vector<std::string>{key});
}

// ===========================================================================
// A counter alternating between the two servers counts 1..N.

struct counter_case {
    std::string name;
    config cfg;
    side first;
};

void PrintTo(const counter_case& c, std::ostream* os)
{
    *os << c.name;
}

class interop_counter : public interop_base, public ::testing::WithParamInterface<counter_case> {};

TEST_P(interop_counter, alternates_between_servers_without_reset)
{
    const auto& p = GetParam();
    start_pair(p.cfg);
    const app_server* order[2] = {p.first == side::node ? node : sk,
                                  p.first == side::node ? sk : node};
    constexpr int n = 10;
    std::string id;
    std::string pair;
    std::optional<long long> loaded_max_age = p.cfg.max_age;  // originalMaxAge before the request
    for (int i = 1; i <= n; ++i) {
        const app_server& s = *order[(i - 1) % 2];
        SCOPED_TRACE(std::string("request ") + std::to_string(i) + " on " + s.name());
        const long long t0 = now_ms();
        const auto r = s.get(counter_path, pair.empty() ? header_list{} : with_cookie(pair));
        const long long t1 = now_ms();
        ASSERT_EQ(r.status, 200U) << describe(r);
        ASSERT_EQ(r.body, count_body(i)) << describe(r);
        if (i == 1 || p.cfg.rolling) {
            ASSERT_EQ(r.set_cookies.size(), 1U) << describe(r);
            const auto c = normalise_set_cookie(r.set_cookies[0], p.cfg.name, p.cfg.signing_secret());
            ASSERT_FALSE(c.id.empty()) << r.set_cookies[0];
            if (i == 1) {
                id = c.id;
                pair = c.pair;
            }
            EXPECT_EQ(c.pair, pair) << "the same session, the same cookie value";
            if (p.cfg.max_age) {
                EXPECT_EQ(c.text, p.cfg.name + "=s%3A<ID>.<SIG>; Path=/; Expires=<EXPIRES>; HttpOnly");
                EXPECT_TRUE(expires_near(c.expires, t0 / 1000 * 1000, t1, *p.cfg.max_age));
            } else {
                EXPECT_EQ(c.text, p.cfg.name + "=s%3A<ID>.<SIG>; Path=/; HttpOnly");
            }
        } else {
            EXPECT_TRUE(r.set_cookies.empty()) << describe(r);
        }
        const std::string key = "sess:" + id;
        EXPECT_EQ(redis.keys("*"), std::vector<std::string>{key});
        const auto rec = normalise_record(value(key), p.cfg.max_age);
        if (p.cfg.max_age && s.kind() == side::sessionkit) {
            EXPECT_EQ(rec.original_max_age, loaded_max_age) << "sessionkit keeps originalMaxAge as loaded";
        }
        loaded_max_age = rec.original_max_age;
        if (p.cfg.max_age) {
            EXPECT_EQ(rec.text, R"({"cookie":{"originalMaxAge":)" + std::to_string(*p.cfg.max_age) +
                                    R"(,"expires":"<EXPIRES>","httpOnly":true,"path":"/"},"count":)" +
                                    std::to_string(i) + "}");
            EXPECT_TRUE(expires_near(rec.expires, t0, t1, *p.cfg.max_age));
        } else {
            EXPECT_EQ(rec.text, stored_json(i));
        }
    }
}

config rolling_max_age()
{
    config c;
    c.rolling = true;
    c.max_age = 60000;
    return c;
}

INSTANTIATE_TEST_SUITE_P(
    interop, interop_counter,
    ::testing::Values(counter_case{"node_first", {}, side::node},
                      counter_case{"sessionkit_first", {}, side::sessionkit},
                      counter_case{"node_first_rolling_max_age", rolling_max_age(), side::node},
                      counter_case{"sessionkit_first_rolling_max_age", rolling_max_age(),
                                   side::sessionkit}),
    [](const auto& info) { return info.param.name; });

// ===========================================================================
// Data written by one side is read unchanged by the other.

struct data_case {
    std::string name;
    std::string payload;        // POSTed to /session-data on a new session
    std::string expected_data;  // Node's GET /session-data afterwards (JSON.stringify)
    std::string expected_record;  // what connect-redis stores (no maxAge)
};

// Node's record for a new session: the cookie first, then the data keys.
std::string record_with(const std::string& data_json)
{
    return R"({"cookie":)" + default_cookie_json + "," + data_json.substr(1);
}

std::vector<data_case> data_cases()
{
    const std::string ordinary_payload =
        R"({"str":"plain","unicode":"h\u00e9llo w)" "\xc3\xb6" R"(rld \u2013 )"
        "\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80"
        R"( \u00e9\ud83d\ude00","quotes":"say \"hi\" and 'bye' `tick`",)"
        R"("escapes":"back\\slash /slash\/ tab\t nl\n cr\r bs\b ff\f nul\u0000 ctl\u001f del\u007f",)"
        R"("separators":"\u2028\u2029","html":"</script><b>&amp;</b>","empty":"",)"
        R"("int":42,"negative":-7,"zero":0,"maxSafe":9007199254740991,"minSafe":-9007199254740991,)"
        R"("float":3.14159,"negFloat":-0.5,"small":1e-7,"tiny":5e-324,"huge":1.7976931348623157e308,)"
        R"("exp21":1e21,"exp20":1e20,"tenth":0.1,"sum":0.30000000000000004,"intAsFloat":2.0,)"
        R"("negZero":-0.0,"upperE":1E+2,"t":true,"f":false,"n":null,)"
        R"("nested":{"a":{"b":{"c":[1,{"d":"e"}]}},"cookie":{"maxAge":1}},)"
        R"("array":[1,"two",3.5,false,null,[],{},[[]]],"emptyObject":{},"emptyArray":[],)"
        R"("\u00fcn\u00efc\u00f6d\u00e9 key":"v","":"empty key","count":5})";
    // JSON.stringify(JSON.parse(payload)), from Node 20.
    const std::string ordinary_data =
        "{\"str\":\"plain\",\"unicode\":\"h\xc3\xa9llo w\xc3\xb6rld \xe2\x80\x93 "
        "\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 \xc3\xa9\xf0\x9f\x98\x80\","
        R"("quotes":"say \"hi\" and 'bye' `tick`",)"
        R"("escapes":"back\\slash /slash/ tab\t nl\n cr\r bs\b ff\f nul\u0000 ctl\u001f del)"
        "\x7f\","
        "\"separators\":\"\xe2\x80\xa8\xe2\x80\xa9\","
        R"("html":"</script><b>&amp;</b>","empty":"",)"
        R"("int":42,"negative":-7,"zero":0,"maxSafe":9007199254740991,"minSafe":-9007199254740991,)"
        R"("float":3.14159,"negFloat":-0.5,"small":1e-7,"tiny":5e-324,"huge":1.7976931348623157e+308,)"
        R"("exp21":1e+21,"exp20":100000000000000000000,"tenth":0.1,"sum":0.30000000000000004,)"
        R"("intAsFloat":2,"negZero":0,"upperE":100,"t":true,"f":false,"n":null,)"
        R"("nested":{"a":{"b":{"c":[1,{"d":"e"}]}},"cookie":{"maxAge":1}},)"
        R"("array":[1,"two",3.5,false,null,[],{},[[]]],"emptyObject":{},"emptyArray":[],)"
        "\"\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 key\":\"v\","
        R"("":"empty key","count":5})";

    // JavaScript puts array-index keys (0 .. 2^32-2) first, ascending, in every object.
    const std::string int_keys_payload =
        R"({"b":1,"10":2,"2":3,"a":4,"-1":5,"01":6,"4294967295":7,"4294967294":8,"1.5":9,"0":10,)"
        R"("nested":{"z":1,"1":2}})";
    const std::string int_keys_data =
        R"({"0":10,"2":3,"10":2,"4294967294":8,"b":1,"a":4,"-1":5,"01":6,"4294967295":7,"1.5":9,)"
        R"("nested":{"1":2,"z":1}})";
    const std::string int_keys_record =
        R"({"0":10,"2":3,"10":2,"4294967294":8,"cookie":)" + default_cookie_json +
        R"(,"b":1,"a":4,"-1":5,"01":6,"4294967295":7,"1.5":9,"nested":{"1":2,"z":1}})";

    // Numbers are doubles in JavaScript.
    const std::string numbers_payload =
        R"({"above":9007199254740993,"u64max":18446744073709551615,)"
        R"("beyond":123456789012345678901234567890,"i64max":9223372036854775807,)"
        R"("belowI64":-9223372036854775809,"closeToOne":1.00000000000000011102230246251565,)"
        R"("manyDigits":0.1000000000000000055511151231257827,"overflow":1e400,"underflow":1e-400})";
    const std::string numbers_data =
        R"({"above":9007199254740992,"u64max":18446744073709552000,"beyond":1.2345678901234568e+29,)"
        R"("i64max":9223372036854776000,"belowI64":-9223372036854776000,"closeToOne":1,)"
        R"("manyDigits":0.1,"overflow":null,"underflow":0})";

    // Strings are UTF-16 in JavaScript: lone surrogates survive and are written as escapes.
    const std::string surrogates_payload =
        R"({"high":"a\ud800b","low":"\udc00","pair":"\ud83d\ude00","reversed":"\ude00\ud83d","end":"x\ud83d"})";
    const std::string surrogates_data =
        R"({"high":"a\ud800b","low":"\udc00","pair":")" "\xf0\x9f\x98\x80"
        R"(","reversed":"\ude00\ud83d","end":"x\ud83d"})";

    // JSON.parse: the last duplicate wins, at the position of the first.
    const std::string duplicates_payload = R"({"a":1,"b":2,"a":3,"c":{"x":1,"x":[2]}})";
    const std::string duplicates_data = R"({"a":3,"b":2,"c":{"x":[2]}})";

    return {
        {"ordinary_values", ordinary_payload, ordinary_data, record_with(ordinary_data)},
        {"array_index_keys", int_keys_payload, int_keys_data, int_keys_record},
        {"numbers_beyond_double_precision", numbers_payload, numbers_data, record_with(numbers_data)},
        {"lone_surrogates", surrogates_payload, surrogates_data, record_with(surrogates_data)},
        {"duplicate_keys", duplicates_payload, duplicates_data, record_with(duplicates_data)},
    };
}

void PrintTo(const data_case& c, std::ostream* os)
{
    *os << c.name;
}

class interop_data : public interop_base, public ::testing::WithParamInterface<data_case> {};

TEST_P(interop_data, written_by_either_side_read_unchanged_by_both)
{
    const auto& p = GetParam();
    start_pair({});

    // Each side stores the same payload in a new session.
    std::string ids[2];
    for (const app_server* writer : {node, sk}) {
        SCOPED_TRACE(std::string("written by ") + writer->name());
        const auto r = writer->post_data(p.payload);
        EXPECT_EQ(r.status, 200U) << describe(r);
        EXPECT_EQ(r.body, R"({"ok":true})");
        if (r.status != 200 || r.set_cookies.size() != 1) {
            ADD_FAILURE() << "no session stored: " << describe(r);
            continue;
        }
        const auto c = normalise_set_cookie(r.set_cookies[0], "connect.sid", seed_secret);
        EXPECT_FALSE(c.id.empty()) << r.set_cookies[0];
        EXPECT_EQ(c.text, "connect.sid=s%3A<ID>.<SIG>; Path=/; HttpOnly");
        ids[writer == node ? 0 : 1] = c.id;
        EXPECT_EQ(value("sess:" + c.id), p.expected_record);
    }

    // Both sides read both sessions the same, and reading is a touch: the records stay as written.
    for (int w = 0; w < 2; ++w) {
        if (ids[w].empty()) {
            continue;
        }
        for (const app_server* reader : {node, sk}) {
            SCOPED_TRACE(std::string("written by ") + (w == 0 ? "node" : "sessionkit") +
                         ", read by " + reader->name());
            const auto r = reader->get(data_path, with_cookie(pair_for(ids[w])));
            EXPECT_EQ(r.status, 200U) << describe(r);
            EXPECT_EQ(r.body, p.expected_data);
            EXPECT_TRUE(r.set_cookies.empty()) << describe(r);
            EXPECT_EQ(value("sess:" + ids[w]), p.expected_record);
        }
    }

    // Each side modifies a session the other side wrote; both end up as Node writes them.
    const std::string more = R"({"more":"\u00e9","flag":false})";
    std::string rewritten[2];
    for (int w = 0; w < 2; ++w) {
        if (ids[w].empty()) {
            continue;
        }
        const app_server* other = w == 0 ? sk : node;
        SCOPED_TRACE(std::string("written by ") + (w == 0 ? "node" : "sessionkit") +
                     ", modified by " + other->name());
        const auto m = other->post_data(more, with_cookie(pair_for(ids[w])));
        EXPECT_EQ(m.status, 200U) << describe(m);
        EXPECT_TRUE(m.set_cookies.empty()) << describe(m);
        rewritten[w] = value("sess:" + ids[w]);
        EXPECT_EQ(rewritten[w], p.expected_record.substr(0, p.expected_record.size() - 1) +
                                    ",\"more\":\"\xc3\xa9\",\"flag\":false}");
    }
    EXPECT_EQ(redis.keys("*").size(), static_cast<std::size_t>(!ids[0].empty() + !ids[1].empty()));
}

INSTANTIATE_TEST_SUITE_P(interop, interop_data, ::testing::ValuesIn(data_cases()),
                         [](const auto& info) { return info.param.name; });

// ===========================================================================
// The stored cookie object: written alike for new sessions, accepted by the other side and
// rewritten the way Node rewrites it.

struct cookie_case {
    std::string name;
    config cfg;
    header_list request_headers;  // e.g. X-Forwarded-Proto
    std::string set_cookie;       // Node's Set-Cookie, normalised; empty: none is sent
    std::string record;           // Node's record for a new session at count 1, normalised
};

std::vector<cookie_case> cookie_cases()
{
    std::vector<cookie_case> cases;
    {
        cookie_case c{"defaults", {}, {}, "connect.sid=s%3A<ID>.<SIG>; Path=/; HttpOnly",
                      R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":1})"};
        cases.push_back(c);
    }
    {
        cookie_case c{"max_age_60000", {}, {},
                      "connect.sid=s%3A<ID>.<SIG>; Path=/; Expires=<EXPIRES>; HttpOnly",
                      R"({"cookie":{"originalMaxAge":60000,"expires":"<EXPIRES>","httpOnly":true,"path":"/"},"count":1})"};
        c.cfg.max_age = 60000;
        cases.push_back(c);
    }
    {
        cookie_case c{"secure_false_lax_not_http_only_domain", {}, {},
                      "connect.sid=s%3A<ID>.<SIG>; Domain=example.com; Path=/; SameSite=Lax",
                      R"({"cookie":{"originalMaxAge":null,"expires":null,"secure":false,"httpOnly":false,"domain":"example.com","path":"/","sameSite":"lax"},"count":1})"};
        c.cfg.secure = "false";
        c.cfg.same_site = "lax";
        c.cfg.http_only = false;
        c.cfg.domain = "example.com";
        cases.push_back(c);
    }
    {
        cookie_case c{"priority_high_partitioned", {}, {},
                      "connect.sid=s%3A<ID>.<SIG>; Path=/; HttpOnly; Partitioned; Priority=High",
                      R"({"cookie":{"originalMaxAge":null,"partitioned":true,"priority":"high","expires":null,"httpOnly":true,"path":"/"},"count":1})"};
        c.cfg.priority = "high";
        c.cfg.partitioned = true;
        cases.push_back(c);
    }
    {
        cookie_case c{"secure_auto_behind_https_proxy", {}, {{"X-Forwarded-Proto", "https"}},
                      "connect.sid=s%3A<ID>.<SIG>; Path=/; Expires=<EXPIRES>; HttpOnly; Secure; SameSite=None",
                      R"({"cookie":{"originalMaxAge":3600000,"expires":"<EXPIRES>","secure":true,"httpOnly":true,"path":"/","sameSite":"none"},"count":1})"};
        c.cfg.secure = "auto";
        c.cfg.same_site = "none";
        c.cfg.proxy = true;
        c.cfg.max_age = 3600000;
        cases.push_back(c);
    }
    {
        // Express's own `trust proxy` compares the protocol as sent: `HTTPS` is not `https`.
        cookie_case c{"secure_auto_trust_proxy_upper_case_https", {}, {{"X-Forwarded-Proto", "HTTPS"}},
                      "connect.sid=s%3A<ID>.<SIG>; Path=/; Expires=<EXPIRES>; HttpOnly",
                      R"({"cookie":{"originalMaxAge":3600000,"expires":"<EXPIRES>","secure":false,"httpOnly":true,"path":"/"},"count":1})"};
        c.cfg.secure = "auto";
        c.cfg.trust_proxy = true;
        c.cfg.max_age = 3600000;
        cases.push_back(c);
    }
    {
        cookie_case c{"secure_auto_trust_proxy_https", {}, {{"X-Forwarded-Proto", " https , http"}},
                      "connect.sid=s%3A<ID>.<SIG>; Path=/; Expires=<EXPIRES>; HttpOnly; Secure",
                      R"({"cookie":{"originalMaxAge":3600000,"expires":"<EXPIRES>","secure":true,"httpOnly":true,"path":"/"},"count":1})"};
        c.cfg.secure = "auto";
        c.cfg.trust_proxy = true;
        c.cfg.max_age = 3600000;
        cases.push_back(c);
    }
    {
        cookie_case c{"secure_auto_plain_http", {}, {},
                      "connect.sid=s%3A<ID>.<SIG>; Path=/; Expires=<EXPIRES>; HttpOnly; SameSite=None",
                      R"({"cookie":{"originalMaxAge":3600000,"expires":"<EXPIRES>","secure":false,"httpOnly":true,"path":"/","sameSite":"none"},"count":1})"};
        c.cfg.secure = "auto";
        c.cfg.same_site = "none";
        c.cfg.proxy = true;
        c.cfg.max_age = 3600000;
        cases.push_back(c);
    }
    {
        // A secure cookie over plain HTTP: no Set-Cookie, but the session is saved.
        cookie_case c{"secure_true_plain_http", {}, {}, "",
                      R"({"cookie":{"originalMaxAge":60000,"expires":"<EXPIRES>","secure":true,"httpOnly":true,"path":"/"},"count":1})"};
        c.cfg.secure = "true";
        c.cfg.max_age = 60000;
        cases.push_back(c);
    }
    {
        cookie_case c{"same_site_true_priority_low_path_name_long_max_age", {}, {},
                      "app.sid=s%3A<ID>.<SIG>; Path=/red; Expires=<EXPIRES>; HttpOnly; Priority=Low; SameSite=Strict",
                      R"({"cookie":{"originalMaxAge":3000000000,"priority":"low","expires":"<EXPIRES>","httpOnly":true,"path":"/red","sameSite":true},"count":1})"};
        c.cfg.same_site = "true";
        c.cfg.priority = "low";
        c.cfg.path = "/red";
        c.cfg.name = "app.sid";
        c.cfg.max_age = 3000000000LL;
        cases.push_back(c);
    }
    {
        cookie_case c{"same_site_false_partitioned_false_priority_medium", {}, {},
                      "connect.sid=s%3A<ID>.<SIG>; Path=/; HttpOnly; Priority=Medium",
                      R"({"cookie":{"originalMaxAge":null,"partitioned":false,"priority":"medium","expires":null,"httpOnly":true,"path":"/","sameSite":false},"count":1})"};
        c.cfg.same_site = "false";
        c.cfg.http_only = true;
        c.cfg.partitioned = false;
        c.cfg.priority = "medium";
        cases.push_back(c);
    }
    return cases;
}

void PrintTo(const cookie_case& c, std::ostream* os)
{
    *os << c.name;
}

class interop_cookie_object : public interop_base,
                              public ::testing::WithParamInterface<cookie_case> {
protected:
    struct outcome {
        st::response response;
        record_view record;
        std::optional<set_cookie_view> cookie;
        long long pttl = -1;
        std::string key;
        long long t0 = 0;
        long long t1 = 0;
    };

    // One request on `s`; the record under `key` afterwards (key empty: the one new key).
    outcome run(const app_server& s, std::string_view target, const std::string& id,
                const std::string& body = "")
    {
        const auto& p = GetParam();
        outcome o;
        header_list headers = p.request_headers;
        if (!id.empty()) {
            headers.emplace_back("Cookie", pair_for(id));
        }
        const auto before = key_set();
        const std::optional<long long> loaded_max_age =
            id.empty() ? cfg.max_age : normalise_record(value("sess:" + id)).original_max_age;
        o.t0 = now_ms();
        o.response = body.empty() ? s.get(target, headers) : post(s.port(), target, headers, body);
        o.t1 = now_ms();
        const std::string key = id.empty() ? new_key(before) : "sess:" + id;
        o.key = key;
        o.record = normalise_record(value(key), cfg.max_age);
        if (cfg.max_age && s.kind() == side::sessionkit) {
            EXPECT_EQ(o.record.original_max_age, loaded_max_age) << "sessionkit keeps originalMaxAge as loaded";
        }
        o.pttl = pttl(key);
        if (!o.response.set_cookies.empty()) {
            o.cookie = normalise_set_cookie(o.response.set_cookies.front(), cfg.name,
                                            cfg.signing_secret());
            if (!o.cookie->id.empty()) {
                EXPECT_EQ("sess:" + o.cookie->id, key) << s.name() << ": the cookie names another session";
            }
        }
        EXPECT_LE(o.response.set_cookies.size(), 1U) << s.name() << ": " << describe(o.response);
        if (cfg.max_age) {
            EXPECT_TRUE(expires_near(o.record.expires, o.t0, o.t1, *cfg.max_age))
                << s.name() << " stored " << o.record.text;
        }
        if (o.cookie && cfg.max_age) {
            EXPECT_TRUE(expires_match_or_near(*o.cookie, o.record, o)) << s.name();
        }
        return o;
    }

    ::testing::AssertionResult expires_match_or_near(const set_cookie_view& c, const record_view& r,
                                                     const outcome& o)
    {
        auto near = expires_near(c.expires, o.t0 / 1000 * 1000, o.t1, *cfg.max_age);
        if (!near) {
            return near;
        }
        return expires_matches_record(c, r);
    }

    // The same request on both sides must have the same effect.
    void expect_same(const outcome& n, const outcome& s, const std::string& what)
    {
        SCOPED_TRACE(what);
        EXPECT_EQ(n.response.status, s.response.status);
        EXPECT_EQ(n.response.body, s.response.body);
        EXPECT_EQ(n.record.text, s.record.text) << "left: Node's record, right: sessionkit's";
        EXPECT_EQ(n.cookie.has_value(), s.cookie.has_value())
            << "node: " << describe(n.response) << "\nsessionkit: " << describe(s.response);
        if (n.cookie && s.cookie) {
            EXPECT_EQ(n.cookie->text, s.cookie->text) << "left: Node's Set-Cookie, right: sessionkit's";
        }
        EXPECT_TRUE(close_ttls(n.pttl, s.pttl));
    }
};

TEST_P(interop_cookie_object, written_alike_accepted_and_rewritten_like_node)
{
    const auto& p = GetParam();
    start_pair(p.cfg);

    // A new session on each side: the same record, cookie and TTL (and what Node is known to do).
    const auto fresh_node = run(*node, counter_path, "");
    const auto fresh_sk = run(*sk, counter_path, "");
    EXPECT_EQ(fresh_node.response.body, count_body(1));
    EXPECT_EQ(fresh_node.record.text, p.record) << "Node does not behave as this test assumes";
    if (p.set_cookie.empty()) {
        EXPECT_FALSE(fresh_node.cookie.has_value()) << describe(fresh_node.response);
    } else {
        ASSERT_TRUE(fresh_node.cookie.has_value()) << describe(fresh_node.response);
        EXPECT_EQ(fresh_node.cookie->text, p.set_cookie);
    }
    expect_same(fresh_node, fresh_sk, "new session");
    if (p.cfg.max_age) {
        EXPECT_TRUE(fresh_ttl(fresh_node.pttl, (*p.cfg.max_age + 999) / 1000));
    } else {
        EXPECT_TRUE(fresh_ttl(fresh_node.pttl, 86400));
    }

    // Each side's record, copied twice: Node and sessionkit load, modify and save a copy each.
    for (const auto* origin : {&fresh_node, &fresh_sk}) {
        const std::string written_by = origin == &fresh_node ? "node" : "sessionkit";
        const std::string& key = origin->key;
        ASSERT_FALSE(key.empty());
        const std::string for_node = clone(key);
        const std::string for_sk = clone(key);
        const auto n1 = run(*node, counter_path, for_node);
        const auto s1 = run(*sk, counter_path, for_sk);
        EXPECT_EQ(n1.response.body, count_body(2));
        expect_same(n1, s1, "counter on a session written by " + written_by);

        if (p.cfg.path && !data_path.starts_with(*p.cfg.path)) {
            // /session-data is outside the cookie path: no session there on either side.
            const auto n2 = run(*node, counter_path, for_node);
            const auto s2 = run(*sk, counter_path, for_sk);
            EXPECT_EQ(n2.response.body, count_body(3));
            expect_same(n2, s2, "second counter on a session written by " + written_by);
            continue;
        }
        const std::string data = R"({"user":{"name":"Zo)" "\xc3\xab" R"(","roles":["admin","ops"]},"flag":true})";
        const auto n2 = run(*node, data_path, for_node, data);
        const auto s2 = run(*sk, data_path, for_sk, data);
        EXPECT_EQ(n2.response.body, R"({"ok":true})");
        expect_same(n2, s2, "POST on a session written by " + written_by);
    }
}

INSTANTIATE_TEST_SUITE_P(interop, interop_cookie_object, ::testing::ValuesIn(cookie_cases()),
                         [](const auto& info) { return info.param.name; });

// ===========================================================================
// TTLs: the same request gives the same TTL on both sides (resave false: an unmodified request
// is a touch, EXPIRE, and leaves the stored value alone).

struct ttl_case {
    std::string name;
    std::optional<long long> max_age;
    bool rolling = false;
    bool resave = false;  // true: an unmodified request is a save (SET), not a touch
};

void PrintTo(const ttl_case& c, std::ostream* os)
{
    *os << c.name;
}

class interop_ttl : public interop_base, public ::testing::WithParamInterface<ttl_case> {};

TEST_P(interop_ttl, same_ttl_after_the_same_request)
{
    const auto& p = GetParam();
    config c;
    c.max_age = p.max_age;
    c.rolling = p.rolling;
    c.resave = p.resave;
    start_pair(c);
    const long long ttl_seconds = p.max_age ? (*p.max_age + 999) / 1000 : 86400;
    const std::string cookie_shape = p.max_age
                                         ? "connect.sid=s%3A<ID>.<SIG>; Path=/; Expires=<EXPIRES>; HttpOnly"
                                         : "connect.sid=s%3A<ID>.<SIG>; Path=/; HttpOnly";

    // New sessions.
    std::string keys[2];
    for (const app_server* s : {node, sk}) {
        const auto before = key_set();
        const auto r = s->get(counter_path);
        EXPECT_EQ(r.body, count_body(1)) << s->name();
        keys[s == node ? 0 : 1] = new_key(before);
    }
    EXPECT_TRUE(close_ttls(pttl(keys[0]), pttl(keys[1]))) << "new session";
    EXPECT_TRUE(fresh_ttl(pttl(keys[0]), ttl_seconds)) << "node, new session";
    EXPECT_TRUE(fresh_ttl(pttl(keys[1]), ttl_seconds)) << "sessionkit, new session";

    for (const auto& origin : keys) {
        SCOPED_TRACE("session written by " + std::string(origin == keys[0] ? "node" : "sessionkit"));
        const std::string original = value(origin);
        const std::string for_node = clone(origin);
        const std::string for_sk = clone(origin);
        // Let the TTLs run down first, so a touch shows.
        for (const auto& id : {for_node, for_sk}) {
            ASSERT_EQ(redis.command({"EXPIRE", "sess:" + id, "20"}).integer, 1);
        }

        // Touch (/session-read does not modify the session), or a save with resave.
        const long long t0 = now_ms();
        const auto rn = node->get(read_path, with_cookie(pair_for(for_node)));
        const auto rs = sk->get(read_path, with_cookie(pair_for(for_sk)));
        const long long t1 = now_ms();
        EXPECT_EQ(rn.body, count_body(1));
        EXPECT_EQ(rs.body, count_body(1));
        if (p.resave) {
            // A save: the record is rewritten with a fresh expires, alike on both sides.
            const auto vn = normalise_record(value("sess:" + for_node), p.max_age);
            const auto vs = normalise_record(value("sess:" + for_sk), p.max_age);
            EXPECT_EQ(vn.text, normalise_record(original, p.max_age).text);
            EXPECT_EQ(vs.text, vn.text);
            EXPECT_EQ(vs.original_max_age, normalise_record(original).original_max_age)
                << "sessionkit keeps originalMaxAge as loaded";
            if (p.max_age) {
                EXPECT_TRUE(expires_near(vn.expires, t0, t1, *p.max_age)) << "node";
                EXPECT_TRUE(expires_near(vs.expires, t0, t1, *p.max_age)) << "sessionkit";
            }
        } else {
            EXPECT_EQ(value("sess:" + for_node), original) << "node: a touch does not rewrite the record";
            EXPECT_EQ(value("sess:" + for_sk), original) << "sessionkit: a touch does not rewrite the record";
        }
        EXPECT_TRUE(close_ttls(pttl("sess:" + for_node), pttl("sess:" + for_sk))) << "touch";
        EXPECT_TRUE(fresh_ttl(pttl("sess:" + for_node), ttl_seconds)) << "node, touch";
        EXPECT_TRUE(fresh_ttl(pttl("sess:" + for_sk), ttl_seconds)) << "sessionkit, touch";
        for (const auto* r : {&rn, &rs}) {
            const char* who = r == &rn ? "node" : "sessionkit";
            if (p.rolling) {
                ASSERT_EQ(r->set_cookies.size(), 1U) << who << ": " << describe(*r);
                const auto cv = normalise_set_cookie(r->set_cookies[0], "connect.sid", seed_secret);
                EXPECT_EQ(cv.text, cookie_shape) << who;
                if (p.max_age) {
                    // Rolling renews Expires even though the stored expires stays as it was.
                    EXPECT_TRUE(expires_near(cv.expires, t0 / 1000 * 1000, t1, *p.max_age)) << who;
                }
            } else {
                EXPECT_TRUE(r->set_cookies.empty()) << who << ": " << describe(*r);
            }
        }

        // Modified: a save with a fresh TTL.
        for (const auto& id : {for_node, for_sk}) {
            ASSERT_EQ(redis.command({"EXPIRE", "sess:" + id, "20"}).integer, 1);
        }
        const auto mn = node->get(counter_path, with_cookie(pair_for(for_node)));
        const auto ms = sk->get(counter_path, with_cookie(pair_for(for_sk)));
        EXPECT_EQ(mn.body, count_body(2));
        EXPECT_EQ(ms.body, count_body(2));
        EXPECT_EQ(normalise_record(value("sess:" + for_node), p.max_age).text,
                  normalise_record(value("sess:" + for_sk), p.max_age).text);
        if (p.max_age) {
            EXPECT_EQ(normalise_record(value("sess:" + for_sk)).original_max_age,
                      normalise_record(original).original_max_age)
                << "sessionkit keeps originalMaxAge as loaded";
        }
        EXPECT_TRUE(close_ttls(pttl("sess:" + for_node), pttl("sess:" + for_sk))) << "save";
        EXPECT_TRUE(fresh_ttl(pttl("sess:" + for_node), ttl_seconds)) << "node, save";
        EXPECT_TRUE(fresh_ttl(pttl("sess:" + for_sk), ttl_seconds)) << "sessionkit, save";
        EXPECT_EQ(mn.set_cookies.size(), ms.set_cookies.size())
            << "node: " << describe(mn) << "\nsessionkit: " << describe(ms);
    }
}

INSTANTIATE_TEST_SUITE_P(
    interop, interop_ttl,
    ::testing::Values(ttl_case{"no_max_age", std::nullopt, false},
                      ttl_case{"no_max_age_rolling", std::nullopt, true},
                      ttl_case{"max_age_60000", 60000, false},
                      ttl_case{"max_age_60000_rolling", 60000, true},
                      ttl_case{"max_age_3000000000", 3000000000LL, false},
                      ttl_case{"max_age_60000_resave", 60000, false, true},
                      ttl_case{"no_max_age_resave", std::nullopt, false, true}),
    [](const auto& info) { return info.param.name; });

// ===========================================================================
// Records neither side wrote (older or foreign writers): both sides revive and rewrite them as
// express-session does. Rolling, so every response carries the cookie built from the record.

struct record_case {
    std::string name;
    std::string record;  // %SOON% (ISO, now + 30 s), %PAST% (ISO, now - 10 min),
                         // %SOON_HTTP% (IMF-fixdate), %SOON_MS% (epoch ms)
};

void PrintTo(const record_case& c, std::ostream* os)
{
    *os << c.name;
}

std::string fill_in_times(std::string record)
{
    const long long now = now_ms();
    const std::pair<std::string, std::string> times[] = {
        {"%SOON_HTTP%", format_http_date(now + 30000)},
        {"%SOON_MS%", std::to_string(now + 30000)},
        {"%SOON%", format_iso(now + 30000)},
        {"%PAST%", format_iso(now - 600000)},
    };
    for (const auto& [from, to] : times) {
        for (auto pos = record.find(from); pos != std::string::npos; pos = record.find(from, pos)) {
            record.replace(pos, from.size(), to);
        }
    }
    return record;
}

class foreign_record_test : public interop_base, public ::testing::WithParamInterface<record_case> {
protected:
    // The same record under two ids; Node reads and then modifies one, sessionkit the other.
    void check_revived_like_node()
    {
        config c;
        c.rolling = true;
        start_pair(c);
        const record_case rc{GetParam().name, fill_in_times(GetParam().record)};
        SCOPED_TRACE("stored: " + rc.record);
        const std::string for_node = put(rc.record);
        const std::string for_sk = put(rc.record);

        // Read without modifying: the same data, the same cookie, a touch only.
        const long long t0 = now_ms();
        const auto rn = node->get(data_path, with_cookie(pair_for(for_node)));
        const auto rs = sk->get(data_path, with_cookie(pair_for(for_sk)));
        const long long t1 = now_ms();
        EXPECT_EQ(rn.status, 200U) << describe(rn);
        EXPECT_EQ(rs.status, rn.status) << describe(rs);
        EXPECT_EQ(rs.body, rn.body) << "left: sessionkit's data, right: Node's";
        EXPECT_EQ(rs.set_cookies.size(), rn.set_cookies.size())
            << "node: " << describe(rn) << "\nsessionkit: " << describe(rs);
        if (!rn.set_cookies.empty() && !rs.set_cookies.empty()) {
            const auto cn = normalise_set_cookie(rn.set_cookies[0], "connect.sid", seed_secret);
            const auto cs = normalise_set_cookie(rs.set_cookies[0], "connect.sid", seed_secret);
            EXPECT_EQ(cs.text, cn.text) << "left: sessionkit's Set-Cookie, right: Node's";
            EXPECT_EQ(cs.expires.has_value(), cn.expires.has_value());
            if (cn.expires) {
                EXPECT_TRUE(expires_near(cn.expires, t0 / 1000 * 1000, t1, 60000)) << "node";
                EXPECT_TRUE(expires_near(cs.expires, t0 / 1000 * 1000, t1, 60000)) << "sessionkit";
            }
        }
        // Usually a touch leaves the record alone; whatever Node does, sessionkit must do.
        EXPECT_EQ(normalise_record(value("sess:" + for_sk), 60000).text,
                  normalise_record(value("sess:" + for_node), 60000).text)
            << "left: sessionkit's record after the read, right: Node's (stored: " << rc.record << ")";
        EXPECT_TRUE(close_ttls(pttl("sess:" + for_node), pttl("sess:" + for_sk))) << "touch";

        // Modify: the record as Node rewrites it.
        const long long t2 = now_ms();
        const auto mn = node->get(counter_path, with_cookie(pair_for(for_node)));
        const auto ms = sk->get(counter_path, with_cookie(pair_for(for_sk)));
        const long long t3 = now_ms();
        EXPECT_EQ(mn.body, count_body(2)) << describe(mn);
        EXPECT_EQ(ms.body, mn.body) << describe(ms);
        const auto vn = normalise_record(value("sess:" + for_node), 60000);
        const auto vs = normalise_record(value("sess:" + for_sk), 60000);
        if (vn.original_max_age) {
            EXPECT_EQ(vs.original_max_age, 60000) << "sessionkit keeps originalMaxAge as loaded";
        }
        EXPECT_EQ(vs.text, vn.text) << "left: sessionkit's rewrite, right: Node's";
        if (vn.expires) {
            EXPECT_TRUE(expires_near(vn.expires, t2, t3, 60000)) << "node";
            EXPECT_TRUE(expires_near(vs.expires, t2, t3, 60000)) << "sessionkit";
        }
        EXPECT_EQ(ms.set_cookies.size(), mn.set_cookies.size())
            << "node: " << describe(mn) << "\nsessionkit: " << describe(ms);
        if (!mn.set_cookies.empty() && !ms.set_cookies.empty()) {
            EXPECT_EQ(normalise_set_cookie(ms.set_cookies[0], "connect.sid", seed_secret).text,
                      normalise_set_cookie(mn.set_cookies[0], "connect.sid", seed_secret).text);
        }
        EXPECT_TRUE(close_ttls(pttl("sess:" + for_node), pttl("sess:" + for_sk))) << "save";
    }
};

class interop_stored_cookie : public foreign_record_test {};

TEST_P(interop_stored_cookie, revived_and_rewritten_like_node)
{
    check_revived_like_node();
}

INSTANTIATE_TEST_SUITE_P(
    interop, interop_stored_cookie,
    ::testing::Values(
        record_case{"every_attribute_capitalised",
                    R"({"cookie":{"originalMaxAge":60000,"partitioned":true,"priority":"High","expires":"%SOON%","secure":false,"httpOnly":false,"domain":"example.com","path":"/","sameSite":"Strict"},"count":1})"},
        record_case{"expires_in_the_past_keys_out_of_order_same_site_true",
                    R"({"cookie":{"path":"/","sameSite":true,"priority":"high","httpOnly":true,"expires":"%PAST%","originalMaxAge":60000},"count":1})"},
        record_case{"http_only_and_path_missing",
                    R"({"cookie":{"originalMaxAge":null,"expires":null},"count":1})"},
        record_case{"expires_as_http_date",
                    R"({"cookie":{"originalMaxAge":60000,"expires":"%SOON_HTTP%","httpOnly":true,"path":"/"},"count":1})"},
        record_case{"expires_as_epoch_milliseconds",
                    R"({"cookie":{"originalMaxAge":60000,"expires":%SOON_MS%,"httpOnly":true,"path":"/"},"count":1})"},
        record_case{"secure_cookie_over_http",
                    R"({"cookie":{"originalMaxAge":60000,"expires":"%SOON%","secure":true,"httpOnly":true,"path":"/"},"count":1})"}),
    [](const auto& info) { return info.param.name; });

// The rest of a record: key order and names express-session drops.
class interop_stored_record : public foreign_record_test {};

TEST_P(interop_stored_record, revived_and_rewritten_like_node)
{
    check_revived_like_node();
}

INSTANTIATE_TEST_SUITE_P(
    interop, interop_stored_record,
    ::testing::Values(
        record_case{"data_before_the_cookie",
                    R"({"count":1,"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"z":true})"},
        record_case{"reserved_keys",
                    R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":1,"id":"x","req":1,"save":2,"touch":3,"reload":4,"regenerate":5,"destroy":6,"resetMaxAge":7,"zz":8})"},
        record_case{"array_index_keys",
                    R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":1,"b":1,"10":2,"2":3,"nested":{"y":1,"5":2}})"},
        // `key in this` on a Session is true for Object.prototype's members too.
        record_case{"object_prototype_keys",
                    R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":1,"constructor":1,"toString":2,"valueOf":3,"hasOwnProperty":4,"isPrototypeOf":5,"propertyIsEnumerable":6,"toLocaleString":7,"__defineGetter__":8,"__defineSetter__":9,"__lookupGetter__":10,"__lookupSetter__":11,"zz":12})"}),
    [](const auto& info) { return info.param.name; });

// ===========================================================================
// The seed's counter follows JavaScript: `if (s.count) s.count++; else s.count = 1` on whatever
// value the session holds.

TEST_F(interop_base, the_counter_increments_stored_values_as_javascript_does)
{
    start_pair({});
    for (const std::string stored :
         {R"("5")", "true", R"("abc")", "[]", "[5]", "[[7]]", "[1,2]", R"(" 7 ")", R"("0x10")", R"("0b101")",
          "{}", "1.5", R"("1e3")", R"("Infinity")", R"("-Infinity")", "9007199254740993", "false", "0",
          R"("")", "null", R"("1_0")", R"(".5")", R"("5.")", "-3", "[null]", "[true]"}) {
        SCOPED_TRACE("stored count: " + stored);
        std::string bodies[2], records[2];
        for (const app_server* s : {node, sk}) {
            const auto made = s->post_data(R"({"count":)" + stored + "}");
            ASSERT_EQ(made.status, 200U) << s->name() << ": " << describe(made);
            ASSERT_EQ(made.set_cookies.size(), 1U) << describe(made);
            const auto c = normalise_set_cookie(made.set_cookies[0], "connect.sid", seed_secret);
            const auto r = s->get(counter_path, with_cookie(pair_for(c.id)));
            EXPECT_EQ(r.status, 200U) << s->name() << ": " << describe(r);
            const int i = s == node ? 0 : 1;
            bodies[i] = r.body;
            records[i] = value("sess:" + c.id);
        }
        EXPECT_EQ(bodies[1], bodies[0]);
        EXPECT_EQ(records[1], records[0]);
    }
}

TEST_F(interop_base, session_destroy_outside_the_cookie_path_fails_as_in_node)
{
    config c;
    c.path = "/red";
    start_pair(c);
    const auto n = node->get("/session-destroy");
    const auto k = sk->get("/session-destroy");
    EXPECT_EQ(n.status, 500U) << describe(n);
    EXPECT_EQ(k.status, n.status) << describe(k);
}

// ===========================================================================
// Concurrency control (sessionkit's --concurrency lock / merge) beside a Node app on the same
// Redis: the sessions stay express-session's, and a lock is never a session to connect-redis.

TEST_F(interop_base, a_session_in_lock_mode_continues_in_node_which_never_sees_the_lock)
{
    config c;
    c.sessionkit_only = {"--concurrency", "lock"};
    start_pair(c);
    const auto r1 = sk->get(counter_path);
    ASSERT_EQ(r1.body, count_body(1)) << describe(r1);
    const auto cookie = normalise_set_cookie(r1.set_cookies.at(0), "connect.sid", seed_secret);
    // A sessionkit request holds the session's lock while Node lists the store.
    auto holder = std::async(std::launch::async, [this, pair = cookie.pair] {
        return sk->get("/session-hold?ms=1000", with_cookie(pair));
    });
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(redis.keys("sessionkit-lock:*").size(), 1U) << "the lock should be held now";
    const auto listed = node->get("/store-sessions");
    EXPECT_EQ(listed.status, 200U) << describe(listed);
    EXPECT_EQ(listed.body, R"({"length":1,"ids":[")" + cookie.id + R"("]})");
    EXPECT_EQ(holder.get().body, count_body(2));
    // Node continues the session sessionkit wrote, and sessionkit (locking) continues Node's.
    EXPECT_EQ(node->get(counter_path, with_cookie(cookie.pair)).body, count_body(3));
    EXPECT_EQ(sk->get(counter_path, with_cookie(cookie.pair)).body, count_body(4));
    EXPECT_EQ(value("sess:" + cookie.id), stored_json(4));
    EXPECT_TRUE(redis.keys("sessionkit-lock:*").empty());
}

TEST_F(interop_base, a_session_merged_by_sessionkit_continues_in_node)
{
    config c;
    c.sessionkit_only = {"--concurrency", "merge"};
    start_pair(c);
    const auto r1 = sk->get(counter_path);
    ASSERT_EQ(r1.body, count_body(1)) << describe(r1);
    const auto cookie = normalise_set_cookie(r1.set_cookies.at(0), "connect.sid", seed_secret);
    const header_list h = with_cookie(cookie.pair);
    EXPECT_EQ(sk->post_data(R"({"a":1})", h).status, 200U);
    EXPECT_EQ(node->post_data(R"({"b":2})", h).status, 200U);
    EXPECT_EQ(sk->post_data(R"({"c":3})", h).status, 200U);
    EXPECT_EQ(node->get("/session-data", h).body, R"({"count":1,"a":1,"b":2,"c":3})");
    EXPECT_EQ(sk->get("/session-data", h).body, R"({"count":1,"a":1,"b":2,"c":3})");
    const auto listed = node->get("/store-sessions");
    EXPECT_EQ(listed.body, R"({"length":1,"ids":[")" + cookie.id + R"("]})");
}

// ===========================================================================
// Timeouts (sessionkit's --idle-timeout / --absolute-timeout) beside a Node app: the times ride
// in the record as `_sessionkit_created` / `_sessionkit_seen`, which Node reads and writes back
// as session data, and a
// session sessionkit ends by its timeout is gone for Node too.

TEST_F(interop_base, a_session_with_timeouts_continues_in_node_and_ends_for_both)
{
    config c;
    c.sessionkit_only = {"--absolute-timeout", "1500", "--idle-timeout", "60000"};
    start_pair(c);
    const auto r1 = sk->get(counter_path);
    ASSERT_EQ(r1.body, count_body(1)) << describe(r1);
    const auto cookie = normalise_set_cookie(r1.set_cookies.at(0), "connect.sid", seed_secret);
    const header_list h = with_cookie(cookie.pair);
    EXPECT_EQ(node->get(counter_path, h).body, count_body(2));
    EXPECT_EQ(sk->get(counter_path, h).body, count_body(3));
    // Node kept the times as they were (it only saw data).
    const auto data = node->get("/session-data", h).body;
    EXPECT_NE(data.find(R"("_sessionkit_created":)"), std::string::npos) << data;
    std::this_thread::sleep_for(1700ms);
    // Past the absolute timeout: sessionkit ends it (and deletes the record), so Node starts
    // over too (Redis's TTL alone would also have ended it by now).
    const auto ended = sk->get(counter_path, h);
    EXPECT_EQ(ended.body, count_body(1)) << describe(ended);
    EXPECT_EQ(value("sess:" + cookie.id), "<no key>") << "the ended record is still in Redis";
    EXPECT_EQ(node->get(counter_path, h).body, count_body(1));
}

// ===========================================================================
// The user index (sessionkit's set_user, sessions_of, log out everywhere) beside a Node app: the
// record is express-session's, with "user" as data; the index sits outside `sess:*`, so Node's
// listing never sees it; Node's writes keep the session in the index; logging out everywhere
// from sessionkit ends the session for Node too.

TEST_F(interop_base, a_logged_in_session_continues_in_node_and_logs_out_everywhere_for_both)
{
    start_pair(config{});
    const auto login = sk->post_to("/login", "user=ada");
    ASSERT_EQ(login.body, "logged in as ada") << describe(login);
    const auto cookie = normalise_set_cookie(login.set_cookies.at(0), "connect.sid", seed_secret);
    const header_list h = with_cookie(cookie.pair);
    EXPECT_EQ(node->get(counter_path, h).body, count_body(1));  // Node's counter on sessionkit's login
    EXPECT_EQ(sk->get(counter_path, h).body, count_body(2));
    EXPECT_EQ(node->get(counter_path, h).body, count_body(3));
    const auto data = node->get("/session-data", h).body;
    EXPECT_NE(data.find(R"("user":"ada")"), std::string::npos) << data;
    EXPECT_EQ(sk->get("/whoami", h).body, "ada");
    const auto mine = sk->get("/my-sessions", h);
    EXPECT_NE(mine.body.find(R"("current":true)"), std::string::npos) << describe(mine);
    EXPECT_EQ(node->get("/store-sessions").body, R"({"length":1,"ids":[")" + cookie.id + R"("]})");
    EXPECT_EQ(redis.keys("sessionkit-user:*").size(), 1U);
    const auto ended = sk->post_to("/logout-everywhere", "", h);
    EXPECT_EQ(ended.body, "1 sessions ended") << describe(ended);
    EXPECT_EQ(value("sess:" + cookie.id), "<no key>");
    EXPECT_EQ(node->get(counter_path, h).body, count_body(1));  // a new session for Node too
    EXPECT_TRUE(redis.keys("sessionkit-user:*").empty()) << "the index outlived the user's sessions";
}

// ===========================================================================
// Destroy on one side ends the session for the other.

class interop_destroy : public interop_base, public ::testing::WithParamInterface<side> {};

TEST_P(interop_destroy, ends_the_session_for_the_other_side)
{
    start_pair({});
    app_server& creator = GetParam() == side::node ? *node : *sk;
    app_server& destroyer = GetParam() == side::node ? *sk : *node;

    const auto r1 = creator.get(counter_path);
    ASSERT_EQ(r1.body, count_body(1)) << describe(r1);
    ASSERT_EQ(r1.set_cookies.size(), 1U) << describe(r1);
    const auto c = normalise_set_cookie(r1.set_cookies[0], "connect.sid", seed_secret);
    ASSERT_FALSE(c.id.empty()) << r1.set_cookies[0];
    const std::string key = "sess:" + c.id;
    EXPECT_EQ(destroyer.get(counter_path, with_cookie(c.pair)).body, count_body(2));

    const auto d = destroyer.get(destroy_path, with_cookie(c.pair));
    EXPECT_EQ(d.status, 200U) << describe(d);
    EXPECT_EQ(d.body, "Session Destroyed!");
    EXPECT_TRUE(d.set_cookies.empty()) << describe(d);
    EXPECT_FALSE(redis.get(key).has_value());
    EXPECT_TRUE(redis.keys("*").empty());

    // The old cookie now starts a new session on either side.
    std::string fresh[2];
    for (app_server* s : {&creator, &destroyer}) {
        SCOPED_TRACE(std::string("old cookie on ") + s->name());
        const auto r = s->get(counter_path, with_cookie(c.pair));
        EXPECT_EQ(r.body, count_body(1)) << describe(r);
        ASSERT_EQ(r.set_cookies.size(), 1U) << describe(r);
        const auto n = normalise_set_cookie(r.set_cookies[0], "connect.sid", seed_secret);
        EXPECT_EQ(n.text, "connect.sid=s%3A<ID>.<SIG>; Path=/; HttpOnly");
        EXPECT_NE(n.id, c.id) << "a destroyed id is never reused";
        EXPECT_EQ(value("sess:" + n.id), stored_json(1));
        fresh[s == &creator ? 0 : 1] = n.id;
    }
    EXPECT_FALSE(redis.get(key).has_value());
    EXPECT_EQ(redis.keys("*").size(), 2U);

    // Destroy the other way round too, on the new sessions.
    const auto d2 = creator.get(destroy_path, with_cookie(pair_for(fresh[1])));
    EXPECT_EQ(d2.body, "Session Destroyed!");
    EXPECT_TRUE(d2.set_cookies.empty()) << describe(d2);
    EXPECT_FALSE(redis.get("sess:" + fresh[1]).has_value());
    const auto after = destroyer.get(read_path, with_cookie(pair_for(fresh[1])));
    EXPECT_EQ(after.body, count_body(0)) << describe(after);
    ASSERT_EQ(after.set_cookies.size(), 1U) << "a new session: " << describe(after);
    EXPECT_NE(normalise_set_cookie(after.set_cookies[0], "connect.sid", seed_secret).id, fresh[1]);
}

INSTANTIATE_TEST_SUITE_P(interop, interop_destroy,
                         ::testing::Values(side::node, side::sessionkit),
                         [](const auto& info) {
                             return std::string(info.param == side::node ? "created_by_node"
                                                                         : "created_by_sessionkit");
                         });

// ===========================================================================
// Secret rotation: a cookie signed with A is accepted by [B, A], which re-signs it with B, and
// [B, A] on the other side accepts that. Rolling, so loaded sessions get their cookie back.

class interop_secrets : public interop_base, public ::testing::WithParamInterface<side> {};

TEST_P(interop_secrets, rotation_from_a_to_b_across_sides)
{
    const std::string a = "old secret A";
    const std::string b = "new secret B";
    const side old_side = GetParam();
    const side other = old_side == side::node ? side::sessionkit : side::node;
    config ca;
    ca.secrets = {a};
    ca.rolling = true;
    config cba = ca;
    cba.secrets = {b, a};
    app_server& old_a = start(old_side, ca);       // the side still on [A]
    app_server& rotated = start(other, cba);       // the other side, already on [B, A]
    app_server& rotated_too = start(old_side, cba);  // the first side after rotation
    const std::string attrs = "; Path=/; HttpOnly";

    const auto r1 = old_a.get(counter_path);
    ASSERT_EQ(r1.body, count_body(1)) << describe(r1);
    ASSERT_EQ(r1.set_cookies.size(), 1U) << describe(r1);
    const auto c1 = normalise_set_cookie(r1.set_cookies[0], "connect.sid", a);
    ASSERT_FALSE(c1.id.empty()) << "not signed with A: " << r1.set_cookies[0];
    const std::string id = c1.id;
    const std::string pair_a = cookie_pair(id, a);
    const std::string pair_b = cookie_pair(id, b);
    EXPECT_EQ(r1.set_cookies[0], pair_a + attrs);

    // The other side, on [B, A], accepts A and answers with B.
    const auto r2 = rotated.get(counter_path, with_cookie(pair_a));
    EXPECT_EQ(r2.body, count_body(2)) << rotated.name() << ": " << describe(r2);
    EXPECT_EQ(r2.set_cookies, std::vector<std::string>{pair_b + attrs}) << rotated.name();

    // The first side after rotation accepts that cookie, and still the old one, answering with B.
    const auto r3 = rotated_too.get(counter_path, with_cookie(pair_b));
    EXPECT_EQ(r3.body, count_body(3)) << rotated_too.name() << ": " << describe(r3);
    EXPECT_EQ(r3.set_cookies, std::vector<std::string>{pair_b + attrs}) << rotated_too.name();
    const auto r4 = rotated_too.get(counter_path, with_cookie(pair_a));
    EXPECT_EQ(r4.body, count_body(4)) << rotated_too.name() << ": " << describe(r4);
    EXPECT_EQ(r4.set_cookies, std::vector<std::string>{pair_b + attrs}) << rotated_too.name();
    const auto r5 = rotated.get(counter_path, with_cookie(pair_b));
    EXPECT_EQ(r5.body, count_body(5)) << rotated.name() << ": " << describe(r5);
    EXPECT_EQ(r5.set_cookies, std::vector<std::string>{pair_b + attrs}) << rotated.name();
    EXPECT_EQ(value("sess:" + id), stored_json(5));

    // The B cookie really is signed with B only: [A] alone does not know it.
    const auto r6 = old_a.get(counter_path, with_cookie(pair_b));
    EXPECT_EQ(r6.body, count_body(1)) << old_a.name() << ": " << describe(r6);
    ASSERT_EQ(r6.set_cookies.size(), 1U) << describe(r6);
    EXPECT_NE(normalise_set_cookie(r6.set_cookies[0], "connect.sid", a).id, id);
    EXPECT_EQ(value("sess:" + id), stored_json(5));

    // New sessions on [B, A] are signed with B, and the other side accepts them.
    for (app_server* first : {&rotated, &rotated_too}) {
        app_server& second = first == &rotated ? rotated_too : rotated;
        SCOPED_TRACE(std::string("new session on ") + first->name() + ", continued on " + second.name());
        const auto n1 = first->get(counter_path);
        ASSERT_EQ(n1.set_cookies.size(), 1U) << describe(n1);
        const auto nc = normalise_set_cookie(n1.set_cookies[0], "connect.sid", b);
        ASSERT_FALSE(nc.id.empty()) << "not signed with B: " << n1.set_cookies[0];
        EXPECT_EQ(n1.set_cookies[0], cookie_pair(nc.id, b) + attrs);
        const auto n2 = second.get(counter_path, with_cookie(nc.pair));
        EXPECT_EQ(n2.body, count_body(2)) << describe(n2);
        EXPECT_EQ(n2.set_cookies, std::vector<std::string>{n1.set_cookies[0]});
    }
}

INSTANTIATE_TEST_SUITE_P(interop, interop_secrets,
                         ::testing::Values(side::node, side::sessionkit),
                         [](const auto& info) {
                             return std::string(info.param == side::node ? "node_signed_with_a"
                                                                         : "sessionkit_signed_with_a");
                         });

}  // namespace

namespace {

// Redis Cluster: sessionkit (redis-cluster://) and express-session + connect-redis on
// node-redis's cluster client share one three-master cluster: sessions made by either side
// continue on the other, stored alike (same keys, no hash tags, same values and TTLs), on every
// master; a destroy on either side ends the session for both.
class interop_cluster : public ::testing::Test {
protected:
    void SetUp() override
    {
        cluster = std::make_unique<st::redis_cluster>(3, 0);
        node = std::make_unique<app_server>(side::node, config{}, cluster->url(2));
        sk = std::make_unique<app_server>(side::sessionkit, config{}, cluster->url(1));
    }
    void TearDown() override
    {
        if (HasFailure()) {
            std::printf("%s\n%s\n", node->output().c_str(), sk->output().c_str());
        }
    }

    std::unique_ptr<st::redis_cluster> cluster;
    std::unique_ptr<app_server> node, sk;
};

TEST_F(interop_cluster, sessions_cross_both_ways_on_every_master)
{
    std::set<std::uint16_t> masters;
    for (int i = 0; i < 24; ++i) {
        SCOPED_TRACE("session " + std::to_string(i));
        app_server* order[2] = {i % 2 ? node.get() : sk.get(), i % 2 ? sk.get() : node.get()};
        const auto first = order[0]->get(counter_path);
        ASSERT_EQ(first.body, count_body(1)) << describe(first);
        ASSERT_EQ(first.set_cookies.size(), 1U) << describe(first);
        const auto c = normalise_set_cookie(first.set_cookies[0], "connect.sid", seed_secret);
        ASSERT_FALSE(c.id.empty());
        const std::string key = "sess:" + c.id;
        st::redis_server* master = cluster->master_of(key);
        ASSERT_NE(master, nullptr);
        masters.insert(master->port());
        EXPECT_EQ(master->get(key).value_or("<none>"), stored_json(1));
        for (int n = 2; n <= 5; ++n) {
            const app_server& s = *order[(n - 1) % 2];
            const auto r = s.get(counter_path, with_cookie(c.pair));
            ASSERT_EQ(r.body, count_body(n)) << s.name() << ": " << describe(r);
            EXPECT_EQ(master->get(key).value_or("<none>"), stored_json(n)) << "written by " << s.name();
            // connect-redis's TTL (86400 s without a cookie expiry) on either side.
            const long long ttl = master->ttl(key);
            EXPECT_GE(ttl, 86398) << s.name();
            EXPECT_LE(ttl, 86400) << s.name();
        }
        // Destroyed by the side that did not make it: gone for both.
        const auto d = order[1]->get(destroy_path, with_cookie(c.pair));
        EXPECT_EQ(d.body, "Session Destroyed!") << describe(d);
        EXPECT_FALSE(master->get(key).has_value());
        const auto again = order[0]->get(read_path, with_cookie(c.pair));
        EXPECT_EQ(again.body, count_body(0)) << describe(again);
    }
    EXPECT_EQ(masters.size(), 3U) << "the sessions landed on every master";
}

}  // namespace
