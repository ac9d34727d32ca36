#pragma once
// A fixture for end-to-end tests that run on each store: the test's parameter names it
// ("memory", "redis", "sqlite"); `start()` launches the example server on it (two servers sharing
// Redis or one SQLite file, one for memory), and `next_port()` alternates between them, so what
// a test shows holds across servers. The store itself can be looked at: Redis directly, the
// SQLite file with `sqlite_rows`.

#include "example_binaries.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace sessionkit::test {

class store_servers : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "redis") {
      redis_ = std::make_unique<redis_server>();
      url_ = redis_->url();
    } else if (GetParam() == "sqlite") {
      db_ = std::filesystem::temp_directory_path() / ("sessionkit-e2e-" + std::to_string(::getpid()) + ".db");
      remove_db();
      url_ = "sqlite:" + db_.string();
    }
  }
  void TearDown() override {
    if (HasFailure())
      for (auto& s : servers_) std::printf("server stderr:\n%s\n", s->stderr_text().c_str());
    servers_.clear();
    remove_db();
  }

  // Two servers on the store (one for memory), with `args`.
  void start(const std::vector<std::string>& args = {}) {
    const int count = GetParam() == "memory" ? 1 : 2;
    for (int i = 0; i < count; ++i) {
      std::vector<std::string> all{"--port", "0", "--store", url_};
      all.insert(all.end(), args.begin(), args.end());
      servers_.push_back(std::make_unique<child_process>(SESSIONKIT_EXAMPLE_PATH, all));
      ports_.push_back(servers_.back()->wait_for_listening().port);
    }
  }
  void stop() {
    servers_.clear();
    ports_.clear();
  }
  std::uint16_t next_port() { return ports_[next_++ % ports_.size()]; }

  // The rows `sql` selects from the SQLite file (its first `?1` bound to the time now, in ms),
  // each as its columns' text.
  std::vector<std::vector<std::string>> sqlite_rows(const char* sql) const {
    std::vector<std::vector<std::string>> rows;
    sqlite3* handle = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(handle, sql, -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(handle);
    sqlite3_bind_int64(st, 1, std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch()).count());
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const auto* text = sqlite3_column_text(st, c);
        row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    sqlite3_close(handle);
    return rows;
  }

  std::unique_ptr<redis_server> redis_;
  std::filesystem::path db_;
  std::string url_ = "memory";
  std::vector<std::unique_ptr<child_process>> servers_;
  std::vector<std::uint16_t> ports_;
  std::size_t next_ = 0;

 private:
  void remove_db() const {
    if (!db_.empty())
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_.string() + suffix);
  }
};

}  // namespace sessionkit::test
