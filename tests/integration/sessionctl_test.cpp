// sessionctl against a real Redis and a real SQLite file filled by the example server: every
// command, its output and exit code, --json parsed back, progress on long walks, and clear
// errors for an unreachable store and a wrong URL.

#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

struct outcome {
  int code = -1;
  std::string out;
  std::string err;
};

outcome sessionctl(std::vector<std::string> args) {
  child_process tool(SESSIONKIT_SESSIONCTL_PATH, std::move(args));
  const exit_status status = tool.wait(30s);
  EXPECT_TRUE(status.exited) << status;
  return {status.exited ? status.code : -1, tool.stdout_text(), tool.stderr_text()};
}

class sessionctl_store : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "redis") {
      redis_ = std::make_unique<redis_server>();
      url_ = redis_->url();
    } else {
      db_ = std::filesystem::temp_directory_path() / ("sessionkit-sessionctl-" + std::to_string(::getpid()) + ".db");
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_.string() + suffix);
      url_ = "sqlite:" + db_.string();
    }
    server_ = std::make_unique<child_process>(SESSIONKIT_EXAMPLE_PATH,
                                              std::vector<std::string>{"--port", "0", "--store", url_});
    port_ = server_->wait_for_listening().port;
  }
  void TearDown() override {
    server_.reset();
    if (!db_.empty())
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_.string() + suffix);
  }

  outcome ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--store", url_});
    return sessionctl(std::move(args));
  }

  std::unique_ptr<redis_server> redis_;
  std::filesystem::path db_;
  std::string url_;
  std::unique_ptr<child_process> server_;
  std::uint16_t port_ = 0;
};

TEST_P(sessionctl_store, every_command_with_its_output_and_exit_code) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(get(port_, "/memory-store-counter").status, 200u);
  cookie_jar alice;
  alice.store(get(port_, "/memory-store-counter"));
  header_list h = alice.headers();
  h.emplace_back("Content-Type", "application/json");
  ASSERT_EQ(post(port_, "/session-data", R"({"user":"alice"})", h).status, 200u);

  outcome r = ctl({"count"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "4\n");
  r = ctl({"--json", "count"});
  EXPECT_EQ(boost::json::parse(r.out).at("count"), 4);

  r = ctl({"list"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 5) << r.out;  // a header and 4 sessions
  EXPECT_NE(r.out.find("alice"), std::string::npos) << r.out;

  r = ctl({"--json", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto list = boost::json::parse(r.out).as_array();
  ASSERT_EQ(list.size(), 4u) << r.out;
  std::string alice_id;
  for (const auto& s : list) {
    EXPECT_GT(s.at("bytes").as_int64(), 50);
    EXPECT_TRUE(s.at("expires").is_string());  // the store's expiry (browser-session cookies too)
    if (s.at("user") == "alice") alice_id = std::string(s.at("id").as_string());
  }
  ASSERT_EQ(alice_id.size(), 32u);

  r = ctl({"show", alice_id.substr(0, 8)});  // a unique prefix will do
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(R"("user":"alice")"), std::string::npos) << r.out;
  r = ctl({"--json", "show", alice_id});
  EXPECT_EQ(boost::json::parse(r.out).at("record").at("user"), "alice");
  r = ctl({"show", "no-such-session"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("no session"), std::string::npos) << r.err;
  // Ids are base64url and may begin with '-': after the command (or "--") they are ids, not
  // options (a random id's prefix made this test fail once in 64).
  for (const std::vector<std::string>& args : {std::vector<std::string>{"show", "-rgSNKw4"},
                                                std::vector<std::string>{"show", "--", "-rgSNKw4"},
                                                std::vector<std::string>{"destroy", "-rgSNKw4xyz"}}) {
    r = ctl(args);
    EXPECT_EQ(r.code, 3) << args[1] << ": " << r.err;
  }

  r = ctl({"destroy", alice_id});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("destroyed"), std::string::npos);
  EXPECT_EQ(r.out.find(alice_id), std::string::npos) << "the text output shows an id prefix only";
  EXPECT_EQ(get(port_, "/session-data", alice.headers()).body, "{}");  // logged out
  r = ctl({"destroy", alice_id});
  EXPECT_EQ(r.code, 3);

  r = ctl({"clear"});  // stdin is no terminal here: nothing to ask, so nothing done
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("--yes"), std::string::npos) << r.err;
  EXPECT_EQ(ctl({"count"}).out, "4\n");  // three, and the one the /session-data read made
  r = ctl({"--json", "clear", "--yes"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(boost::json::parse(r.out).at("destroyed"), 4);
  EXPECT_EQ(ctl({"count"}).out, "0\n");
  EXPECT_EQ(ctl({"--json", "list"}).out, "[]\n");
}

// by-user and destroy-user go through the store's user index (the example's POST /login records
// the user).
TEST_P(sessionctl_store, by_user_lists_and_destroy_user_ends_one_users_sessions) {
  const header_list form{{"Content-Type", "application/x-www-form-urlencoded"}};
  cookie_jar frank[2], grace;
  for (auto& jar : frank) {
    jar.store(post(port_, "/login", "user=frank", form));
    ASSERT_EQ(get(port_, "/whoami", jar.headers()).body, "frank");
  }
  grace.store(post(port_, "/login", "user=grace", form));
  ASSERT_EQ(get(port_, "/memory-store-counter").status, 200u);  // nobody's

  outcome r = ctl({"by-user", "frank"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;  // a header and 2 sessions
  r = ctl({"--json", "by-user", "frank"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto list = boost::json::parse(r.out).as_array();
  ASSERT_EQ(list.size(), 2u) << r.out;
  for (const auto& s : list) EXPECT_EQ(s.at("user"), "frank");
  EXPECT_EQ(boost::json::parse(ctl({"--json", "by-user", "nobody"}).out).as_array().size(), 0u);

  r = ctl({"destroy-user", "frank"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "destroyed 2 sessions of frank\n");
  for (auto& jar : frank) EXPECT_EQ(get(port_, "/whoami", jar.headers()).status, 401u);
  EXPECT_EQ(get(port_, "/whoami", grace.headers()).body, "grace");
  EXPECT_EQ(boost::json::parse(ctl({"--json", "destroy-user", "frank"}).out).at("destroyed"), 0);
  EXPECT_EQ(ctl({"by-user"}).code, 2);  // a user name is needed
}

TEST_P(sessionctl_store, walks_many_sessions_in_pages_with_progress) {
  for (int i = 0; i < 1100; ++i) ASSERT_EQ(get(port_, "/memory-store-counter").status, 200u);
  const outcome r = ctl({"--progress", "count"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1100\n");
  EXPECT_NE(r.err.find("scanned"), std::string::npos) << r.err;
  EXPECT_EQ(ctl({"--yes", "clear"}).out, "destroyed 1100 sessions\n");
}

INSTANTIATE_TEST_SUITE_P(stores, sessionctl_store, ::testing::Values("redis", "sqlite"),
                         [](const auto& info) { return info.param; });

TEST(sessionctl, bad_usage_and_unreachable_stores_are_clear_errors) {
  outcome r = sessionctl({"count"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--store"), std::string::npos) << r.err;
  r = sessionctl({"--store", "memory", "count"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("memory store"), std::string::npos) << r.err;
  r = sessionctl({"--store", "postgres://user:hunter2@db/x", "count"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << "a password in a message: " << r.err;
  r = sessionctl({"--store", "redis://127.0.0.1:1", "frobnicate"});
  EXPECT_EQ(r.code, 2);
  r = sessionctl({"--store", "redis://127.0.0.1:1", "show"});
  EXPECT_EQ(r.code, 2);
  r = sessionctl({"--store", "redis://:hunter2@127.0.0.1:" + std::to_string(free_port()), "--timeout", "500", "count"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot reach"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
  r = sessionctl({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos);
}

}  // namespace
}  // namespace sessionkit::test
