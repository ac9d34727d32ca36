// sessionkit-example with `--store sqlite:PATH`: the count persists across restarts, even after
// kill -9, with no server to run, and two processes on one file share sessions.

#include "support/child_process.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <thread>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

class sqlite_example : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sessionkit-sqlite-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_ = (dir_ / "sessions.db").string();
  }
  void TearDown() override {
    servers_.clear();
    std::filesystem::remove_all(dir_);
  }

  // Starts an example on the database; returns its port.
  std::uint16_t start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--port", "0", "--store", "sqlite:" + db_};
    args.insert(args.end(), extra.begin(), extra.end());
    servers_.push_back(std::make_unique<child_process>(SESSIONKIT_EXAMPLE_PATH, args));
    return servers_.back()->wait_for_listening().port;
  }

  std::string count(std::uint16_t port, cookie_jar& jar) {
    auto r = get(port, "/sqlite-store-counter", jar.headers());
    EXPECT_EQ(r.status, 200u) << r.body;
    jar.store(r);
    return r.body;
  }

  std::vector<std::pair<std::string, std::string>> rows() const {
    sqlite3* db = nullptr;
    std::vector<std::pair<std::string, std::string>> out;
    if (sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* st = nullptr;
      sqlite3_prepare_v2(db, "SELECT id, record FROM sessions", -1, &st, nullptr);
      while (st && sqlite3_step(st) == SQLITE_ROW)
        out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
                         reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
  }

  std::filesystem::path dir_;
  std::string db_;
  std::vector<std::unique_ptr<child_process>> servers_;
};

TEST_F(sqlite_example, count_survives_kill_9_and_restart) {
  cookie_jar jar;
  auto port = start();
  EXPECT_EQ(count(port, jar), "count is 1");
  EXPECT_EQ(count(port, jar), "count is 2");
  EXPECT_EQ(count(port, jar), "count is 3");
  servers_.back()->kill();  // SIGKILL: no chance to flush anything
  port = start();
  EXPECT_EQ(count(port, jar), "count is 4");
  const auto stored = rows();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].second,
            R"({"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":4})");
  EXPECT_TRUE(servers_.back()->terminate().success());
}

TEST_F(sqlite_example, two_processes_on_one_file_share_sessions) {
  const auto a = start();
  const auto b = start();
  cookie_jar jar;
  for (int i = 1; i <= 6; ++i) EXPECT_EQ(count(i % 2 ? a : b, jar), "count is " + std::to_string(i));
  // Destroyed on one, gone for the other.
  auto destroyed = get(a, "/session-destroy", jar.headers());
  EXPECT_EQ(destroyed.body, "Session Destroyed!");
  EXPECT_EQ(count(b, jar), "count is 1");
}

TEST_F(sqlite_example, concurrent_clients_on_two_processes_lose_nothing) {
  const auto a = start({"--threads", "2"});
  const auto b = start({"--threads", "2"});
  constexpr int clients = 6, requests = 20;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      cookie_jar jar;
      for (int i = 1; i <= requests; ++i) {
        auto r = get((i + c) % 2 ? a : b, "/sqlite-store-counter", jar.headers());
        jar.store(r);
        if (r.status != 200 || r.body != "count is " + std::to_string(i)) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(rows().size(), std::size_t(clients));
}

TEST_F(sqlite_example, max_age_sessions_expire_and_are_pruned) {
  const auto port = start({"--max-age", "300", "--prune-interval", "100"});
  cookie_jar jar;
  EXPECT_EQ(count(port, jar), "count is 1");
  EXPECT_EQ(rows().size(), 1u);
  std::this_thread::sleep_for(600ms);
  EXPECT_TRUE(rows().empty());  // pruned in the background, nobody asked for it
  EXPECT_EQ(count(port, jar), "count is 1");
}

}  // namespace
}  // namespace sessionkit::test
