// Issue 16, item 5, end to end: --id-transport header and --id-header on every example server:
// a client that keeps no cookies counts through the X-Session-Id header (or Authorization:
// Bearer), gets no Set-Cookie, and a forged header starts a new session; with both transports a
// browser's cookie and an API client's header name the same session.

#include "example_binaries.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>

namespace sessionkit::test {
namespace {

class id_header_frameworks : public ::testing::TestWithParam<example_binary> {};

TEST_P(id_header_frameworks, a_client_without_cookies_counts_through_the_header) {
  child_process server(GetParam().path, {"--port", "0", "--id-transport", "header"});
  const auto port = server.wait_for_listening().port;
  const response first = get(port, "/memory-store-counter");
  EXPECT_EQ(first.body, "count is 1");
  EXPECT_TRUE(first.set_cookies.empty()) << describe(first);
  const auto token = first.header("X-Session-Id");
  ASSERT_TRUE(token) << describe(first);
  EXPECT_EQ(token->rfind("s:", 0), 0u);
  EXPECT_EQ(get(port, "/memory-store-counter", {{"X-Session-Id", *token}}).body, "count is 2");
  EXPECT_EQ(get(port, "/memory-store-counter", {{"X-Session-Id", "Bearer " + *token}}).body, "count is 3");
  // A forged value is a new session, answered with its own id.
  const response forged = get(port, "/memory-store-counter", {{"X-Session-Id", *token + "x"}});
  EXPECT_EQ(forged.body, "count is 1");
  EXPECT_NE(forged.header("X-Session-Id"), token);
}

TEST_P(id_header_frameworks, a_cookie_and_a_bearer_header_name_one_session) {
  child_process server(GetParam().path, {"--port", "0", "--id-header", "Authorization"});
  const auto port = server.wait_for_listening().port;
  cookie_jar browser;
  const response first = get(port, "/memory-store-counter");
  browser.store(first);
  ASSERT_FALSE(first.set_cookies.empty());
  const auto token = first.header("Authorization");
  ASSERT_TRUE(token) << describe(first);
  EXPECT_EQ(get(port, "/memory-store-counter", browser.headers()).body, "count is 2");
  EXPECT_EQ(get(port, "/memory-store-counter", {{"Authorization", "Bearer " + *token}}).body, "count is 3");
}

INSTANTIATE_TEST_SUITE_P(frameworks, id_header_frameworks, ::testing::ValuesIn(example_binaries()),
                         [](const auto& info) { return info.param.framework; });

}  // namespace
}  // namespace sessionkit::test
