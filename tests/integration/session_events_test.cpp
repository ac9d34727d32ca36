// Issue 16, item 4, end to end: --log-events on every example server writes one audit line per
// lifecycle event, with the id's hash (never the id) and the reason.

#include "example_binaries.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>

namespace sessionkit::test {
namespace {

class session_events_frameworks : public ::testing::TestWithParam<example_binary> {};

TEST_P(session_events_frameworks, each_event_is_an_audit_line_without_the_id) {
  child_process server(GetParam().path, {"--port", "0", "--log-events"});
  const auto port = server.wait_for_listening().port;
  cookie_jar jar;
  jar.store(get(port, "/memory-store-counter"));
  jar.store(get(port, "/memory-store-counter", jar.headers()));
  (void)get(port, "/session-destroy", jar.headers());
  EXPECT_TRUE(server.wait_for_stderr("session event: created id=")) << server.stderr_text();
  EXPECT_TRUE(server.wait_for_stderr("session event: loaded id=")) << server.stderr_text();
  EXPECT_TRUE(server.wait_for_stderr("reason=destroy")) << server.stderr_text();
  const std::string id = jar.session_id();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(server.stderr_text().find(id), std::string::npos) << "a session id in the log";
}

INSTANTIATE_TEST_SUITE_P(frameworks, session_events_frameworks, ::testing::ValuesIn(example_binaries()),
                         [](const auto& info) { return info.param.framework; });

}  // namespace
}  // namespace sessionkit::test
