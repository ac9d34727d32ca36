// One app on three frameworks: sessionkit-example (Boost.Beast), sessionkit-example-httplib and
// sessionkit-example-restinio on one redis-server (tests/support/redis_server.hpp) are one
// application. A client's requests rotate over the three servers with one cookie, and the
// count goes 1, 2, ..., N as if there were one server: the same engine, store layout and
// cookie signing behind three HTTP frameworks.

#include "example_binaries.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace st = sessionkit::test;
using namespace std::chrono_literals;

// What express-session + connect-redis store for a session without maxAge, then `extra`.
std::string stored_json(int count, std::string_view extra = {})
{
    return R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":)" +
           std::to_string(count) + std::string(extra) + "}";
}

// The session id in `connect.sid=s%3A<id>.<signature>; ...`.
std::optional<std::string> session_id_of(const st::response& r)
{
    static const std::regex shape(
        R"(^connect\.sid=s%3A([A-Za-z0-9_-]{32})\.(?:[A-Za-z0-9]|%2B|%2F){43}; Path=/; HttpOnly$)");
    std::smatch m;
    if (r.set_cookies.size() != 1 || !std::regex_match(r.set_cookies.front(), m, shape)) {
        return std::nullopt;
    }
    return m[1].str();
}

class example_process {
public:
    example_process(const st::example_binary& binary, const std::string& store)
        : binary_(binary),
          process_(std::make_unique<st::child_process>(
              binary.path, std::vector<std::string>{"--port", "0", "--store", store}))
    {
        port_ = process_->wait_for_listening(10s).port;
    }

    [[nodiscard]] const std::string& name() const noexcept { return binary_.program; }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

    ::testing::AssertionResult terminates_cleanly()
    {
        const auto status = process_->terminate(10s);
        if (!status.success()) {
            return ::testing::AssertionFailure() << binary_.program << " on SIGTERM: " << status
                                                 << "\nstderr:\n" << process_->stderr_text();
        }
        return ::testing::AssertionSuccess();
    }

private:
    st::example_binary binary_;
    std::unique_ptr<st::child_process> process_;
    std::uint16_t port_ = 0;
};

// A POST with a JSON body (the test client only does GET): one request on a fresh connection.
st::response post_json(std::uint16_t port, std::string_view target, const st::cookie_jar& jar,
                       const std::string& json)
{
    const std::string request = "POST " + std::string(target) +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                "Content-Type: application/json\r\nContent-Length: " +
                                std::to_string(json.size()) + "\r\nCookie: " + jar.cookie_header() +
                                "\r\n\r\n" + json;
    const auto raw = st::raw_exchange(port, request, 5s);
    st::response r;
    static const std::regex status_line(R"(^HTTP/1\.1 ([0-9]{3}) )");
    std::smatch m;
    if (std::regex_search(raw.data, m, status_line)) {
        r.status = static_cast<unsigned>(std::stoul(m[1].str()));
    }
    if (const auto body = raw.data.find("\r\n\r\n"); body != std::string::npos) {
        r.body = raw.data.substr(body + 4);
    }
    return r;
}

// One Redis and the three example servers on it.
class three_frameworks : public ::testing::Test {
protected:
    void SetUp() override
    {
        const auto binaries = st::example_binaries();
        if (binaries.size() < 3) {
            GTEST_SKIP() << "needs the cpp-httplib and RESTinio examples";
        }
        for (const auto& b : binaries) {
            servers.push_back(std::make_unique<example_process>(b, redis.url()));
        }
    }

    st::redis_server redis;
    std::vector<std::unique_ptr<example_process>> servers;
};

TEST_F(three_frameworks, share_one_redis_and_one_session)
{

    // The seed's counter paths, rotated too: every one counts in the --store store.
    const std::vector<std::string_view> paths{"/redis-store-counter", "/radis-store-counter",
                                              "/memory-store-counter", "/sqlite-store-counter"};
    constexpr int requests = 12;
    st::cookie_jar jar;
    std::string id;
    for (int n = 1; n <= requests; ++n) {
        const auto& server = *servers[static_cast<std::size_t>(n - 1) % servers.size()];
        SCOPED_TRACE("request " + std::to_string(n) + " on " + server.name());
        const auto r = st::get(server.port(), paths[static_cast<std::size_t>(n - 1) % paths.size()],
                               jar.headers());
        ASSERT_EQ(r.status, 200U) << describe(r);
        ASSERT_EQ(r.body, "count is " + std::to_string(n)) << describe(r);
        if (n == 1) {
            const auto issued = session_id_of(r);
            ASSERT_TRUE(issued.has_value()) << describe(r);
            id = *issued;
            jar.store(r);
        } else {
            // The session goes on: no new cookie, whichever server answers.
            EXPECT_TRUE(r.set_cookies.empty()) << describe(r);
        }
        EXPECT_EQ(redis.get("sess:" + id).value_or("<none>"), stored_json(n));
    }
    EXPECT_EQ(redis.keys("sess:*"), std::vector<std::string>{"sess:" + id});

    // Data written through one framework is read through the others.
    const auto posted = post_json(servers[1]->port(), "/session-data", jar, R"({"user":"ada"})");
    EXPECT_EQ(posted.status, 200U) << posted.body;
    EXPECT_EQ(posted.body, R"({"ok":true})");
    for (const auto& server : servers) {
        SCOPED_TRACE(server->name());
        const auto r = st::get(server->port(), "/session-data", jar.headers());
        EXPECT_EQ(r.status, 200U) << describe(r);
        EXPECT_EQ(r.body, R"({"count":)" + std::to_string(requests) + R"(,"user":"ada"})");
    }
    EXPECT_EQ(redis.get("sess:" + id).value_or("<none>"),
              stored_json(requests, R"(,"user":"ada")"));

    // Destroyed through one, gone for all: the next counter starts over with a new id.
    const auto destroyed = st::get(servers[2]->port(), "/session-destroy", jar.headers());
    EXPECT_EQ(destroyed.status, 200U) << describe(destroyed);
    EXPECT_EQ(destroyed.body, "Session Destroyed!");
    EXPECT_FALSE(redis.get("sess:" + id).has_value());
    const auto fresh = st::get(servers[0]->port(), "/redis-store-counter", jar.headers());
    EXPECT_EQ(fresh.body, "count is 1") << describe(fresh);
    const auto fresh_id = session_id_of(fresh);
    ASSERT_TRUE(fresh_id.has_value()) << describe(fresh);
    EXPECT_NE(*fresh_id, id);

    for (auto& server : servers) {
        EXPECT_TRUE(server->terminates_cleanly());
    }
}

// Several clients at once, each rotating over the three servers on keep-alive connections:
// every client's count still goes 1..N.
TEST_F(three_frameworks, concurrent_clients_rotating_over_three_servers)
{

    constexpr int clients = 3;
    constexpr int requests = 15;
    std::mutex mutex;
    std::vector<std::string> failures;
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            try {
                std::vector<std::unique_ptr<st::connection>> connections;
                for (const auto& server : servers) {
                    connections.push_back(std::make_unique<st::connection>(server->port()));
                }
                st::cookie_jar jar;
                for (int n = 1; n <= requests; ++n) {
                    // Client c starts on server c, so all three are busy at once.
                    const std::size_t s = static_cast<std::size_t>(c + n) % servers.size();
                    const auto r = connections[s]->get("/redis-store-counter", jar.headers());
                    if (r.status != 200 || r.body != "count is " + std::to_string(n)) {
                        std::lock_guard lock(mutex);
                        failures.push_back("client " + std::to_string(c) + ", request " +
                                           std::to_string(n) + " on " + servers[s]->name() +
                                           ": " + describe(r));
                        return;
                    }
                    if (n == 1) {
                        jar.store(r);
                    }
                }
            } catch (const std::exception& e) {
                std::lock_guard lock(mutex);
                failures.emplace_back(e.what());
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    for (const auto& f : failures) {
        ADD_FAILURE() << f;
    }
    EXPECT_EQ(redis.keys("sess:*").size(), static_cast<std::size_t>(clients));
    for (auto& server : servers) {
        EXPECT_TRUE(server->terminates_cleanly());
    }
}

}  // namespace
