// sessionkit-plain-beast: sessionkit inside a Beast server that is not ours
// (`async_run_with_session`), driven over real HTTP.

#include "support/child_process.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>

namespace sessionkit::test {
namespace {

class plain_beast : public ::testing::Test {
 protected:
  void SetUp() override { port_ = server_.wait_for_listening().port; }

  child_process server_{SESSIONKIT_PLAIN_BEAST_PATH, {"--port", "0"}};
  std::uint16_t port_ = 0;
};

TEST_F(plain_beast, counts_in_the_session_and_sends_the_cookie) {
  cookie_jar jar;
  auto first = get(port_, "/counter", jar.headers());
  ASSERT_EQ(first.status, 200u) << describe(first);
  EXPECT_EQ(first.body, "count is 1");
  ASSERT_TRUE(first.header("Set-Cookie")) << describe(first);
  EXPECT_NE(first.header("Set-Cookie")->find("HttpOnly"), std::string::npos);
  jar.store(first);
  EXPECT_EQ(get(port_, "/counter", jar.headers()).body, "count is 2");
  EXPECT_EQ(get(port_, "/counter", jar.headers()).body, "count is 3");
  // Another client has its own session.
  EXPECT_EQ(get(port_, "/counter").body, "count is 1");
}

TEST_F(plain_beast, keep_alive_requests_share_the_session) {
  connection c(port_);
  cookie_jar jar;
  for (int i = 1; i <= 5; ++i) {
    auto r = c.get("/counter", jar.headers());
    ASSERT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.body, "count is " + std::to_string(i));
    jar.store(r);
  }
}

TEST_F(plain_beast, logout_destroys_the_stored_session) {
  cookie_jar jar;
  jar.store(get(port_, "/counter", jar.headers()));
  EXPECT_EQ(get(port_, "/counter", jar.headers()).body, "count is 2");
  const std::string old_cookie = jar.cookie_header();
  auto out = get(port_, "/logout", jar.headers());
  EXPECT_EQ(out.body, "logged out");
  EXPECT_FALSE(out.header("Set-Cookie"));
  // The old cookie finds nothing: a new session.
  EXPECT_EQ(get(port_, "/counter", {{"Cookie", old_cookie}}).body, "count is 1");
}

TEST_F(plain_beast, routes_without_a_session_are_untouched) {
  auto r = get(port_, "/elsewhere");
  EXPECT_EQ(r.status, 404u);
  EXPECT_FALSE(r.header("Set-Cookie"));
}

}  // namespace
}  // namespace sessionkit::test
