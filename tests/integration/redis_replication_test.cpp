// --redis-wait-replicas: acknowledged means replicated. With a real master and replica: every
// counter response that came back 200 is already on the replica when it arrives; with the
// replica gone, writes are not acknowledged (503, no cookie) and the server keeps running; with
// it back, service resumes. Without the option a missing replica changes nothing.

#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

class redis_replication : public ::testing::Test {
 protected:
  void SetUp() override { start_replica(); }

  void start_replica() {
    if (!replica_)
      replica_ = std::make_unique<redis_server>(
          false, std::vector<std::string>{"--replicaof", "127.0.0.1", std::to_string(master_.port())});
    else
      replica_->start();
    // Until the master sees it online.
    for (int i = 0; i < 200; ++i) {
      if (master_.command({"INFO", "replication"}).text.find("state=online") != std::string::npos) return;
      std::this_thread::sleep_for(25ms);
    }
    FAIL() << "the replica did not come online";
  }

  std::uint16_t start_app(std::vector<std::string> more) {
    std::vector<std::string> args{"--port", "0", "--store", master_.url(), "--redis-command-timeout", "1000"};
    args.insert(args.end(), more.begin(), more.end());
    app_ = std::make_unique<child_process>(SESSIONKIT_EXAMPLE_PATH, args);
    return app_->wait_for_listening().port;
  }

  // A replica's first sync starts at once (not after the default 5 s diskless-sync delay).
  redis_server master_{false, {"--repl-diskless-sync-delay", "0"}};
  std::unique_ptr<redis_server> replica_;
  std::unique_ptr<child_process> app_;
};

TEST_F(redis_replication, an_acknowledged_write_is_on_the_replica_already) {
  const auto port = start_app({"--redis-wait-replicas", "1", "--redis-wait-timeout", "300"});
  // The app connects to Redis in the background: until then it answers 503.
  for (int i = 0; i < 40 && get(port, "/no-session").status == 200 && get(port, "/session-read").status == 503; ++i)
    std::this_thread::sleep_for(50ms);
  cookie_jar jar;
  for (int i = 1; i <= 20; ++i) {
    const response r = get(port, "/redis-store-counter", jar.headers());
    ASSERT_EQ(r.body, "count is " + std::to_string(i)) << describe(r);
    jar.store(r);
    // Read from the replica the moment the response is in: the write is there.
    const std::string id = jar.session_id();
    EXPECT_NE(replica_->get("sess:" + id).value_or("").find("\"count\":" + std::to_string(i)), std::string::npos);
  }
  replica_->stop();
  const response lost = get(port, "/redis-store-counter", jar.headers());
  EXPECT_EQ(lost.status, 503u) << describe(lost);  // not replicated in time: not acknowledged
  EXPECT_TRUE(lost.set_cookies.empty());
  EXPECT_TRUE(app_->running());
  EXPECT_TRUE(app_->wait_for_stderr("replicas in time")) << app_->stderr_text();
  start_replica();
  const response back = get(port, "/redis-store-counter", jar.headers());
  EXPECT_EQ(back.status, 200u) << describe(back);
}

TEST_F(redis_replication, without_the_option_a_missing_replica_changes_nothing) {
  const auto port = start_app({});
  replica_->stop();
  cookie_jar jar;
  for (int i = 1; i <= 3; ++i) {
    const response r = get(port, "/redis-store-counter", jar.headers());
    EXPECT_EQ(r.body, "count is " + std::to_string(i)) << describe(r);
    jar.store(r);
  }
}

TEST_F(redis_replication, a_wait_timeout_not_below_the_command_timeout_is_refused_at_start) {
  child_process app(SESSIONKIT_EXAMPLE_PATH, {"--port", "0", "--store", master_.url(), "--redis-wait-replicas", "1",
                                              "--redis-wait-timeout", "2000", "--redis-command-timeout", "1000"});
  const exit_status status = app.wait(10s);
  EXPECT_TRUE(status.exited && status.code != 0) << status;
  EXPECT_NE(app.stderr_text().find("shorter than the command timeout"), std::string::npos) << app.stderr_text();
}

}  // namespace
}  // namespace sessionkit::test
