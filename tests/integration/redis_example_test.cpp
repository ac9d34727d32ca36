// End-to-end tests of sessionkit-example with `--store redis://...` (or unix:...): the
// seed's connect-redis app,
//   app.use(session({ store: new RedisStore({ client }), secret: 'Rs89I67YEA55cLMgi0t6oyr8568e6KtD',
//                     resave: false, saveUninitialized: true }));
//   GET /redis-store-counter (and /radis-store-counter) -> "count is N"
// Every test starts its own redis-server (tests/support/redis_server.hpp) and its own example
// process(es) on --port 0, and only ever talks to those. What is stored is checked directly in
// Redis: key `sess:<id>`, value the session JSON, TTL as connect-redis computes it.

#include "support/child_process.hpp"
#include "support/cookie_signature.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/time.h>
#include <unistd.h>

#ifndef SESSIONKIT_EXAMPLE_PATH
#error "SESSIONKIT_EXAMPLE_PATH must be the path of the sessionkit-example binary"
#endif

namespace {

namespace st = sessionkit::test;
using namespace std::chrono_literals;
using st::header_list;
using clock_type = std::chrono::steady_clock;

const std::string example_path = SESSIONKIT_EXAMPLE_PATH;
const std::string default_secret = "Rs89I67YEA55cLMgi0t6oyr8568e6KtD";
const std::string cookie_name = "connect.sid";
constexpr std::string_view counter_path = "/redis-store-counter";
constexpr std::string_view seed_counter_path = "/radis-store-counter";
constexpr std::string_view destroy_path = "/session-destroy";
constexpr std::string_view destroyed_body = "Session Destroyed!";

// What express-session + connect-redis store for a fresh session without maxAge.
std::string stored_json(int count)
{
    return R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":)" +
           std::to_string(count) + "}";
}

std::string count_body(int n)
{
    return "count is " + std::to_string(n);
}

long long ms_since(clock_type::time_point start)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start).count();
}

// ---------------------------------------------------------------------------
// Cookie signature (spec 1.1), computed here independently of the library.

using sessionkit::test::base64;
using sessionkit::test::signature_of;

std::string decode_signature(std::string s)
{
    for (const auto& [from, to] : {std::pair{"%2B", "+"}, std::pair{"%2F", "/"}}) {
        for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos)) {
            s.replace(pos, 3, to);
        }
    }
    return s;
}

// ---------------------------------------------------------------------------
// Responses.

// The session id of a Set-Cookie `connect.sid=s%3A<id>.<sig>; ...` whose signature verifies.
std::optional<std::string> session_id_of(const std::string& set_cookie)
{
    static const std::regex shape(
        R"(^connect\.sid=s%3A([A-Za-z0-9_-]{32})\.((?:[A-Za-z0-9]|%2B|%2F){43})(;.*)?$)");
    std::smatch m;
    if (!std::regex_match(set_cookie, m, shape)) {
        return std::nullopt;
    }
    if (decode_signature(m[2].str()) != signature_of(m[1].str(), default_secret)) {
        return std::nullopt;
    }
    return m[1].str();
}

// 200 "count is 1" with exactly one valid session Set-Cookie; its id goes to *id.
::testing::AssertionResult is_new_session(const st::response& r, std::string* id = nullptr)
{
    if (r.status != 200 || r.body != count_body(1)) {
        return ::testing::AssertionFailure() << "expected 200 \"count is 1\", got " << describe(r);
    }
    if (r.set_cookies.size() != 1) {
        return ::testing::AssertionFailure() << "expected exactly one Set-Cookie, got " << describe(r);
    }
    auto parsed = session_id_of(r.set_cookies.front());
    if (!parsed) {
        return ::testing::AssertionFailure() << "malformed or badly signed cookie: " << describe(r);
    }
    if (id != nullptr) {
        *id = *parsed;
    }
    return ::testing::AssertionSuccess();
}

// A loaded session without maxAge: the count moves on and no Set-Cookie is sent again.
::testing::AssertionResult continues(const st::response& r, int expected_count)
{
    if (r.status != 200 || r.body != count_body(expected_count) || !r.set_cookies.empty()) {
        return ::testing::AssertionFailure() << "expected 200 \"" << count_body(expected_count)
                                             << "\" without Set-Cookie, got " << describe(r);
    }
    return ::testing::AssertionSuccess();
}

// 503, text/plain, a body that names the session store, and no session cookie.
::testing::AssertionResult is_store_unavailable(const st::response& r)
{
    const auto type = r.header("Content-Type").value_or("");
    if (r.status != 503 || r.body.find("session store") == std::string::npos ||
        type.rfind("text/plain", 0) != 0 || !r.set_cookies.empty()) {
        return ::testing::AssertionFailure()
               << "expected 503 text/plain mentioning \"session store\" without Set-Cookie, got "
               << describe(r) << ", Content-Type \"" << type << "\"";
    }
    return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------
// A Redis client of our own for what the helper's one-connection-per-command cannot do:
// AUTH, SELECT and then the command, on one connection (TCP or unix socket).

struct redis_target {
    std::uint16_t port = 0;       // TCP on 127.0.0.1 when no socket
    std::string unix_socket;      // otherwise
    std::string password;         // AUTH when not empty
    int db = 0;                   // SELECT when not 0
};

st::redis_value to_value(const redisReply* r)
{
    st::redis_value v;
    switch (r->type) {
    case REDIS_REPLY_NIL: v.nil = true; break;
    case REDIS_REPLY_ERROR: v.error = true; v.text.assign(r->str, r->len); break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS: v.text.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: v.integer = r->integer; break;
    case REDIS_REPLY_ARRAY:
        for (std::size_t i = 0; i < r->elements; ++i) {
            v.elements.push_back(to_value(r->element[i]));
        }
        break;
    default: break;
    }
    return v;
}

st::redis_value redis_command(const redis_target& t, const std::vector<std::string>& args)
{
    const timeval timeout{5, 0};
    redisContext* c = t.unix_socket.empty()
                          ? redisConnectWithTimeout("127.0.0.1", t.port, timeout)
                          : redisConnectUnixWithTimeout(t.unix_socket.c_str(), timeout);
    if (c == nullptr || c->err != 0) {
        const std::string why = c != nullptr ? c->errstr : "out of memory";
        if (c != nullptr) {
            redisFree(c);
        }
        throw std::runtime_error("cannot reach the test Redis: " + why);
    }
    redisSetTimeout(c, timeout);
    auto run = [c](const std::vector<std::string>& argv_strings) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (const auto& a : argv_strings) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        auto* reply = static_cast<redisReply*>(
            redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
        if (reply == nullptr) {
            throw std::runtime_error(std::string("Redis command failed: ") + c->errstr);
        }
        st::redis_value v = to_value(reply);
        freeReplyObject(reply);
        return v;
    };
    try {
        if (!t.password.empty()) {
            if (auto v = run({"AUTH", t.password}); v.error) {
                throw std::runtime_error("AUTH failed: " + v.text);
            }
        }
        if (t.db != 0) {
            if (auto v = run({"SELECT", std::to_string(t.db)}); v.error) {
                throw std::runtime_error("SELECT failed: " + v.text);
            }
        }
        auto v = run(args);
        redisFree(c);
        return v;
    } catch (...) {
        redisFree(c);
        throw;
    }
}

std::vector<std::string> texts(const st::redis_value& v)
{
    std::vector<std::string> out;
    for (const auto& e : v.elements) {
        out.push_back(e.text);
    }
    return out;
}

// ---------------------------------------------------------------------------
// One sessionkit-example process on --port 0.

class example_process {
public:
    explicit example_process(std::vector<std::string> args)
    {
        std::vector<std::string> all{"--port", "0"};
        all.insert(all.end(), args.begin(), args.end());
        process_ = std::make_unique<st::child_process>(example_path, std::move(all));
        port_ = process_->wait_for_listening(10s).port;
    }

    example_process(const example_process&) = delete;
    example_process& operator=(const example_process&) = delete;
    ~example_process() = default;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    st::child_process& process() { return *process_; }

    st::response get(std::string_view target, const header_list& headers = {}) const
    {
        return st::get(port_, target, headers);
    }
    st::response counter(const st::cookie_jar& jar, std::string_view target = counter_path) const
    {
        return get(target, jar.headers());
    }

    // SIGTERM must end it cleanly (exit 0), whatever Redis did meanwhile.
    ::testing::AssertionResult terminates_cleanly()
    {
        const auto status = process_->terminate(10s);
        if (!status.success()) {
            return ::testing::AssertionFailure()
                   << "example on SIGTERM: " << status << "\nstderr:\n" << process_->stderr_text();
        }
        return ::testing::AssertionSuccess();
    }

private:
    std::unique_ptr<st::child_process> process_;
    std::uint16_t port_ = 0;
};

// A new session on `server`, remembered in `jar`; its id is returned.
std::string start_session(const example_process& server, st::cookie_jar& jar,
                          std::string_view target = counter_path)
{
    const auto r = server.counter(jar, target);
    std::string id;
    EXPECT_TRUE(is_new_session(r, &id));
    jar.store(r);
    return id;
}

// Repeats `get` until it answers 200 (or `limit` passes); only 503s are allowed meanwhile.
// Returns the 200 response, or nullopt after adding a failure.
std::optional<st::response> poll_until_ok(const std::function<st::response()>& get,
                                          std::chrono::milliseconds limit)
{
    const auto start = clock_type::now();
    std::string last = "nothing";
    while (clock_type::now() - start < limit) {
        try {
            auto r = get();
            if (r.status == 200) {
                return r;
            }
            if (!is_store_unavailable(r)) {
                ADD_FAILURE() << "while waiting for Redis: " << describe(r);
                return std::nullopt;
            }
            last = describe(r);
        } catch (const std::exception& e) {
            ADD_FAILURE() << "request failed while waiting for Redis: " << e.what();
            return std::nullopt;
        }
        std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "no 200 within " << limit.count() << " ms; last: " << last;
    return std::nullopt;
}

// ISO 8601 "YYYY-MM-DDTHH:MM:SS.mmmZ" to milliseconds since the epoch.
std::optional<long long> parse_iso_ms(const std::string& iso)
{
    std::tm tm{};
    int ms = 0;
    if (std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
        return std::nullopt;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<long long>(timegm(&tm)) * 1000 + ms;
}

long long now_ms()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// A private temporary directory, removed at the end.
class temp_dir {
public:
    temp_dir()
    {
        char tmpl[] = "/tmp/sessionkit-it-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = tmpl;
    }
    ~temp_dir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
};

// ---------------------------------------------------------------------------

// The session lives in Redis, not in the process: SIGKILL and a new process continue it.
TEST(redis_example, counter_survives_a_killed_server)
{
    st::redis_server redis;
    st::cookie_jar jar;
    std::string id;
    {
        example_process first({"--store", redis.url()});
        id = start_session(first, jar);
        ASSERT_FALSE(id.empty());
        EXPECT_TRUE(continues(first.counter(jar), 2));
        EXPECT_TRUE(continues(first.counter(jar), 3));
        const auto status = first.process().kill();
        EXPECT_FALSE(status.exited) << status;
        EXPECT_EQ(status.signal, SIGKILL) << status;
    }
    EXPECT_EQ(redis.get("sess:" + id).value_or("<none>"), stored_json(3));

    example_process second({"--store", redis.url()});
    EXPECT_TRUE(continues(second.counter(jar), 4));
    EXPECT_EQ(redis.get("sess:" + id).value_or("<none>"), stored_json(4));
    EXPECT_EQ(redis.keys("*"), std::vector<std::string>{"sess:" + id});
    EXPECT_TRUE(second.terminates_cleanly());
}

// Two processes on one Redis are one app: a cookie from either works on both.
TEST(redis_example, two_servers_share_one_session)
{
    st::redis_server redis;
    example_process a({"--store", redis.url()});
    example_process b({"--store", redis.url()});
    ASSERT_NE(a.port(), b.port());

    st::cookie_jar jar;
    const std::string id = start_session(a, jar);
    ASSERT_FALSE(id.empty());
    EXPECT_TRUE(continues(b.counter(jar), 2));
    EXPECT_TRUE(continues(a.counter(jar), 3));
    EXPECT_TRUE(continues(b.counter(jar, seed_counter_path), 4));
    EXPECT_TRUE(continues(a.counter(jar, seed_counter_path), 5));
    EXPECT_EQ(redis.get("sess:" + id).value_or("<none>"), stored_json(5));

    // Destroyed on one, gone on the other.
    const auto destroyed = b.get(destroy_path, jar.headers());
    EXPECT_EQ(destroyed.status, 200U) << describe(destroyed);
    EXPECT_EQ(destroyed.body, destroyed_body);
    std::string fresh;
    EXPECT_TRUE(is_new_session(a.counter(jar), &fresh));
    EXPECT_NE(fresh, id);

    EXPECT_TRUE(a.terminates_cleanly());
    EXPECT_TRUE(b.terminates_cleanly());
}

// connect-redis's layout: sess:<id> = the session JSON, SET ... EX ttl, DEL on destroy.
TEST(redis_example, stores_connect_redis_key_value_and_ttl)
{
    st::redis_server redis;
    {
        example_process server({"--store", redis.url()});
        st::cookie_jar jar;
        const std::string id = start_session(server, jar);
        ASSERT_FALSE(id.empty());
        const std::string key = "sess:" + id;

        EXPECT_EQ(redis.keys("*"), std::vector<std::string>{key});
        EXPECT_EQ(redis.command({"TYPE", key}).text, "string");
        EXPECT_EQ(redis.get(key).value_or("<none>"), stored_json(1));
        auto ttl = redis.ttl(key);
        EXPECT_GE(ttl, 86399);
        EXPECT_LE(ttl, 86400);

        // Lower the TTL by hand: the next save sets it back to 86400.
        ASSERT_EQ(redis.command({"EXPIRE", key, "100"}).integer, 1);
        EXPECT_TRUE(continues(server.counter(jar), 2));
        EXPECT_EQ(redis.get(key).value_or("<none>"), stored_json(2));
        ttl = redis.ttl(key);
        EXPECT_GE(ttl, 86399);
        EXPECT_LE(ttl, 86400);

        const auto destroyed = server.get(destroy_path, jar.headers());
        EXPECT_EQ(destroyed.status, 200U) << describe(destroyed);
        EXPECT_EQ(destroyed.body, destroyed_body);
        EXPECT_FALSE(redis.get(key).has_value());
        EXPECT_EQ(redis.ttl(key), -2);  // no such key
        EXPECT_TRUE(redis.keys("*").empty());
        EXPECT_TRUE(server.terminates_cleanly());
    }

    // With maxAge the TTL follows the cookie's expiry.
    example_process server({"--store", redis.url(), "--max-age", "60000"});
    const auto before = now_ms();
    const auto r = server.get(counter_path);
    const auto after = now_ms();
    ASSERT_EQ(r.status, 200U) << describe(r);
    ASSERT_EQ(r.body, count_body(1));
    ASSERT_EQ(r.set_cookies.size(), 1U) << describe(r);
    const auto id = session_id_of(r.set_cookies.front());
    ASSERT_TRUE(id.has_value()) << describe(r);
    const std::string key = "sess:" + *id;
    EXPECT_EQ(redis.keys("*"), std::vector<std::string>{key});

    const std::string value = redis.get(key).value_or("<none>");
    static const std::regex shape(
        R"re(^\{"cookie":\{"originalMaxAge":60000,"expires":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)","httpOnly":true,"path":"/"\},"count":1\}$)re");
    std::smatch m;
    ASSERT_TRUE(std::regex_match(value, m, shape)) << value;
    const auto expires = parse_iso_ms(m[1].str());
    ASSERT_TRUE(expires.has_value()) << m[1].str();
    EXPECT_GE(*expires, before + 60000 - 1000) << m[1].str();
    EXPECT_LE(*expires, after + 60000 + 1000) << m[1].str();
    const auto ttl = redis.ttl(key);
    EXPECT_GE(ttl, 59);
    EXPECT_LE(ttl, 60);
    EXPECT_TRUE(server.terminates_cleanly());
}

// Redis goes away mid-run: quick 503s, no crash, and the same sessions once it is back.
TEST(redis_example, redis_restart_mid_run_gives_503_then_recovers)
{
    constexpr long long command_timeout_ms = 500;
    st::redis_server redis(/*persistent=*/true);
    example_process server({"--store", redis.url(), "--redis-command-timeout",
                            std::to_string(command_timeout_ms), "--redis-connect-timeout", "500"});
    st::cookie_jar jar;
    const std::string id = start_session(server, jar);
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(continues(server.counter(jar), 2));

    redis.stop();

    for (int i = 0; i < 3; ++i) {
        SCOPED_TRACE("request " + std::to_string(i) + " while Redis is down");
        const auto start = clock_type::now();
        const auto r = server.counter(jar);
        const auto took = ms_since(start);
        EXPECT_TRUE(is_store_unavailable(r));
        EXPECT_LT(took, command_timeout_ms + 1000);
    }
    {
        SCOPED_TRACE("new visitor while Redis is down");
        const auto start = clock_type::now();
        const auto r = server.get(counter_path);
        EXPECT_TRUE(is_store_unavailable(r));
        EXPECT_LT(ms_since(start), command_timeout_ms + 1000);
    }
    {
        SCOPED_TRACE("destroy while Redis is down");
        const auto start = clock_type::now();
        const auto r = server.get(destroy_path, jar.headers());
        EXPECT_EQ(r.status, 503U) << describe(r);
        EXPECT_LT(ms_since(start), command_timeout_ms + 1000);
    }
    EXPECT_TRUE(server.process().running()) << server.process().stderr_text();

    redis.start();
    EXPECT_EQ(redis.get("sess:" + id).value_or("<none>"), stored_json(2))
        << "the persistent test Redis lost the session";

    const auto r = poll_until_ok([&] { return server.counter(jar); }, 10s);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(continues(*r, 3));
    EXPECT_TRUE(continues(server.counter(jar), 4));
    EXPECT_EQ(redis.get("sess:" + id).value_or("<none>"), stored_json(4));
    EXPECT_TRUE(server.terminates_cleanly());
}

// Redis not there at start: the example starts anyway and serves once Redis comes.
TEST(redis_example, starts_without_redis_and_recovers_when_it_comes)
{
    st::redis_server redis;  // reserves the port
    redis.stop();

    const auto start = clock_type::now();
    example_process server({"--store", redis.url(), "--redis-connect-timeout", "300",
                            "--redis-command-timeout", "500"});
    EXPECT_LT(ms_since(start), 3000) << "listening line came late";

    for (int i = 0; i < 2; ++i) {
        const auto begin = clock_type::now();
        EXPECT_TRUE(is_store_unavailable(server.get(counter_path))) << "request " << i;
        EXPECT_LT(ms_since(begin), 1500);
    }
    EXPECT_TRUE(server.process().running());

    redis.start();
    const auto r = poll_until_ok([&] { return server.get(counter_path); }, 10s);
    ASSERT_TRUE(r.has_value());
    std::string id;
    ASSERT_TRUE(is_new_session(*r, &id));
    st::cookie_jar jar;
    jar.store(*r);
    EXPECT_TRUE(continues(server.counter(jar), 2));
    EXPECT_EQ(redis.get("sess:" + id).value_or("<none>"), stored_json(2));
    EXPECT_TRUE(server.terminates_cleanly());
}

// Whatever sits under the key, if it is not a session it is no session: a new one, never a 5xx.
TEST(redis_example, unreadable_values_start_a_new_session)
{
    st::redis_server redis;
    example_process server({"--store", redis.url()});

    struct corruption {
        std::string name;
        std::vector<std::vector<std::string>> commands;  // %K is the key
    };
    const std::vector<corruption> cases{
        {"not JSON", {{"SET", "%K", "not json"}}},
        {"a JSON array", {{"SET", "%K", "[1,2]"}}},
        {"no cookie", {{"SET", "%K", R"({"count":5})"}}},
        {"cookie not an object", {{"SET", "%K", R"({"cookie":5})"}}},
        {"JSON null", {{"SET", "%K", "null"}}},
        {"empty string", {{"SET", "%K", ""}}},
        {"truncated JSON", {{"SET", "%K", stored_json(5).substr(0, 40)}}},
        {"a list", {{"DEL", "%K"}, {"RPUSH", "%K", stored_json(5), "x"}}},
        {"a hash", {{"DEL", "%K"}, {"HSET", "%K", "count", "5"}}},
    };

    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        st::cookie_jar jar;
        const std::string id = start_session(server, jar);
        ASSERT_FALSE(id.empty());
        ASSERT_TRUE(continues(server.counter(jar), 2));
        const std::string key = "sess:" + id;
        for (auto args : c.commands) {
            for (auto& a : args) {
                if (a == "%K") {
                    a = key;
                }
            }
            const auto reply = redis.command(args);
            ASSERT_FALSE(reply.error) << reply.text;
        }

        const auto r = server.counter(jar);
        std::string fresh;
        EXPECT_TRUE(is_new_session(r, &fresh));
        EXPECT_NE(fresh, id);
        EXPECT_EQ(redis.get("sess:" + fresh).value_or("<none>"), stored_json(1));
        jar.store(r);
        EXPECT_TRUE(continues(server.counter(jar), 2));
    }

    // Still serving normally.
    st::cookie_jar jar;
    ASSERT_FALSE(start_session(server, jar).empty());
    EXPECT_TRUE(continues(server.counter(jar), 2));
    EXPECT_TRUE(continues(server.counter(jar), 3));
    EXPECT_TRUE(server.process().running());
    EXPECT_TRUE(server.terminates_cleanly());
}

// redis://:password@host:port/db: AUTH, then SELECT; a wrong or missing password is a 503.
TEST(redis_example, auth_and_database_from_the_url)
{
    st::redis_server redis;
    // The helper checks readiness with an unauthenticated PING, so the password is set once
    // it runs (the same as starting it with --requirepass s3cret).
    ASSERT_FALSE(redis.command({"CONFIG", "SET", "requirepass", "s3cret"}).error);
    const std::string hostport = "127.0.0.1:" + std::to_string(redis.port());
    const redis_target db0{redis.port(), "", "s3cret", 0};
    const redis_target db2{redis.port(), "", "s3cret", 2};
    // Really protected:
    EXPECT_TRUE(redis.command({"PING"}).error);

    {
        example_process server({"--store", "redis://:s3cret@" + hostport + "/2"});
        st::cookie_jar jar;
        const std::string id = start_session(server, jar);
        ASSERT_FALSE(id.empty());
        EXPECT_TRUE(continues(server.counter(jar), 2));
        EXPECT_EQ(redis_command(db2, {"GET", "sess:" + id}).text, stored_json(2));
        EXPECT_EQ(texts(redis_command(db2, {"KEYS", "*"})), std::vector<std::string>{"sess:" + id});
        EXPECT_TRUE(redis_command(db0, {"KEYS", "*"}).elements.empty());
        EXPECT_TRUE(server.terminates_cleanly());
    }
    {
        // user:password with the default user (Redis 6 ACL form).
        example_process server({"--store", "redis://default:s3cret@" + hostport + "/3"});
        st::cookie_jar jar;
        const std::string id = start_session(server, jar);
        ASSERT_FALSE(id.empty());
        EXPECT_EQ(redis_command(redis_target{redis.port(), "", "s3cret", 3}, {"GET", "sess:" + id}).text,
                  stored_json(1));
        EXPECT_TRUE(server.terminates_cleanly());
    }
    for (const std::string& url : {"redis://:wrong@" + hostport + "/2", "redis://" + hostport + "/2"}) {
        SCOPED_TRACE(url);
        example_process server({"--store", url, "--redis-connect-timeout", "300",
                                "--redis-command-timeout", "500"});
        const auto start = clock_type::now();
        EXPECT_TRUE(is_store_unavailable(server.get(counter_path)));
        EXPECT_LT(ms_since(start), 1500);
        EXPECT_TRUE(server.process().running());
        EXPECT_TRUE(server.terminates_cleanly());
    }
    EXPECT_EQ(redis_command(db2, {"DBSIZE"}).integer, 1);
    EXPECT_EQ(redis_command(db0, {"DBSIZE"}).integer, 0);
}

// unix:/path/to/socket[?db=N]
TEST(redis_example, unix_socket_url)
{
    temp_dir dir;
    const std::string socket = dir.path() + "/redis.sock";
    st::redis_server redis(false, {"--unixsocket", socket, "--unixsocketperm", "700"});
    {
        example_process server({"--store", "unix:" + socket});
        st::cookie_jar jar;
        const std::string id = start_session(server, jar);
        ASSERT_FALSE(id.empty());
        EXPECT_TRUE(continues(server.counter(jar), 2));
        EXPECT_EQ(redis.get("sess:" + id).value_or("<none>"), stored_json(2));
        EXPECT_TRUE(server.terminates_cleanly());
    }
    {
        example_process server({"--store", "unix:" + socket + "?db=4"});
        st::cookie_jar jar;
        const std::string id = start_session(server, jar);
        ASSERT_FALSE(id.empty());
        EXPECT_TRUE(continues(server.counter(jar), 2));
        EXPECT_EQ(redis_command(redis_target{0, socket, "", 4}, {"GET", "sess:" + id}).text,
                  stored_json(2));
        EXPECT_FALSE(redis.get("sess:" + id).has_value());
        EXPECT_TRUE(server.terminates_cleanly());
    }
}

// --redis-prefix replaces "sess:" in every key, for get, set and destroy alike.
TEST(redis_example, key_prefix)
{
    st::redis_server redis;
    example_process server({"--store", redis.url(), "--redis-prefix", "app1:"});
    st::cookie_jar jar;
    const std::string id = start_session(server, jar);
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(redis.keys("*"), std::vector<std::string>{"app1:" + id});
    EXPECT_EQ(redis.get("app1:" + id).value_or("<none>"), stored_json(1));
    EXPECT_TRUE(continues(server.counter(jar), 2));
    EXPECT_EQ(redis.get("app1:" + id).value_or("<none>"), stored_json(2));

    // A session under the default prefix is not this app's.
    ASSERT_FALSE(redis.command({"SET", "sess:" + id, stored_json(41)}).error);
    EXPECT_TRUE(continues(server.counter(jar), 3));

    const auto destroyed = server.get(destroy_path, jar.headers());
    EXPECT_EQ(destroyed.status, 200U) << describe(destroyed);
    EXPECT_FALSE(redis.get("app1:" + id).has_value());
    EXPECT_EQ(redis.keys("*"), std::vector<std::string>{"sess:" + id});
    EXPECT_TRUE(server.terminates_cleanly());
}

}  // namespace
