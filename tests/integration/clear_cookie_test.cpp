// Issue 16, item 6, end to end: --clear-cookie-on-destroy on every example server: the response
// to GET /session-destroy carries a Set-Cookie that clears the session cookie; without the flag
// it carries none (express-session 1).

#include "example_binaries.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>

namespace sessionkit::test {
namespace {

class clear_cookie_frameworks : public ::testing::TestWithParam<example_binary> {};

TEST_P(clear_cookie_frameworks, a_destroy_clears_the_cookie_when_asked) {
  for (bool clear : {false, true}) {
    SCOPED_TRACE(clear ? "--clear-cookie-on-destroy" : "default");
    std::vector<std::string> args{"--port", "0"};
    if (clear) args.push_back("--clear-cookie-on-destroy");
    child_process server(GetParam().path, args);
    const auto port = server.wait_for_listening().port;
    cookie_jar jar;
    jar.store(get(port, "/memory-store-counter"));
    const response destroyed = get(port, "/session-destroy", jar.headers());
    EXPECT_EQ(destroyed.status, 200u) << describe(destroyed);
    if (!clear) {
      EXPECT_TRUE(destroyed.set_cookies.empty()) << describe(destroyed);
      continue;
    }
    ASSERT_EQ(destroyed.set_cookies.size(), 1u) << describe(destroyed);
    EXPECT_EQ(destroyed.set_cookies[0].rfind("connect.sid=;", 0), 0u) << destroyed.set_cookies[0];
    EXPECT_NE(destroyed.set_cookies[0].find("Expires=Thu, 01 Jan 1970 00:00:00 GMT"), std::string::npos);
    jar.store(destroyed);
    EXPECT_EQ(jar.cookie_header().find("s%3A"), std::string::npos) << "the jar still holds the session";
  }
}

INSTANTIATE_TEST_SUITE_P(frameworks, clear_cookie_frameworks, ::testing::ValuesIn(example_binaries()),
                         [](const auto& info) { return info.param.framework; });

}  // namespace
}  // namespace sessionkit::test
