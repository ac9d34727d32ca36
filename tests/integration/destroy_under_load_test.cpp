// Issue 14, end to end: a logout is final. While several clients keep using a session on two
// servers (one for the memory store), /session-destroy ends it, and afterwards the old cookie
// never finds it again: no request in flight brings it back, with resave on or off, in every
// --concurrency mode, on memory, Redis and SQLite.

#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

struct store_case {
  std::string name;
  int servers;  // sharing the store
};

void PrintTo(const store_case& c, std::ostream* os) { *os << c.name; }

class destroy_under_load : public ::testing::TestWithParam<std::tuple<store_case, bool, std::string>> {
 protected:
  void SetUp() override {
    const auto& [store, resave, mode] = GetParam();
    std::string url = "memory";
    if (store.name == "redis") {
      redis_ = std::make_unique<redis_server>();
      url = redis_->url();
    } else if (store.name == "sqlite") {
      db_ = std::filesystem::temp_directory_path() /
            ("sessionkit-destroy-" + std::to_string(::getpid()) + "-" + std::to_string(resave) + mode + ".db");
      std::filesystem::remove(db_);
      url = "sqlite:" + db_.string();
    }
    for (int i = 0; i < store.servers; ++i) {
      servers_.push_back(std::make_unique<child_process>(
          SESSIONKIT_EXAMPLE_PATH, std::vector<std::string>{"--port", "0", "--store", url, "--resave",
                                                             resave ? "true" : "false", "--concurrency", mode}));
      ports_.push_back(servers_.back()->wait_for_listening().port);
    }
  }
  void TearDown() override {
    servers_.clear();
    if (!db_.empty()) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_.string() + suffix);
    }
  }

  std::unique_ptr<redis_server> redis_;
  std::filesystem::path db_;
  std::vector<std::unique_ptr<child_process>> servers_;
  std::vector<std::uint16_t> ports_;
};

TEST_P(destroy_under_load, a_destroyed_session_is_never_brought_back) {
  const int trials = 100;
  int resurrections = 0;
  for (int trial = 0; trial < trials; ++trial) {
    cookie_jar jar;
    const auto made = get(ports_[0], "/memory-store-counter");
    ASSERT_EQ(made.status, 200u) << describe(made);
    jar.store(made);
    const header_list cookie = jar.headers();
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 6; ++c) {
      clients.emplace_back([&, c] {
        const std::uint16_t port = ports_[std::size_t(c) % ports_.size()];
        while (!stop) {
          try {
            // Counting and reading alike: with resave, reads write the session back too.
            (void)get(port, c % 2 ? "/memory-store-counter" : "/session-read", cookie, 3s);
          } catch (const std::exception&) {
          }
        }
      });
    }
    std::this_thread::sleep_for(15ms);
    const auto destroyed = get(ports_.back(), "/session-destroy", cookie);
    EXPECT_EQ(destroyed.body, "Session Destroyed!");
    std::this_thread::sleep_for(15ms);  // requests that loaded it before the destroy still end
    stop = true;
    for (auto& t : clients) t.join();
    // The old cookie finds no session on any server: a new one, with no count.
    for (std::uint16_t port : ports_) {
      const auto after = get(port, "/session-read", cookie);
      if (after.body != "count is 0") ++resurrections;
    }
  }
  EXPECT_EQ(resurrections, 0) << "of " << trials << " logouts";
}

INSTANTIATE_TEST_SUITE_P(stores, destroy_under_load,
                         ::testing::Combine(::testing::Values(store_case{"memory", 1}, store_case{"redis", 2},
                                                              store_case{"sqlite", 2}),
                                            ::testing::Bool(), ::testing::Values("none", "lock", "merge")),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + (std::get<1>(info.param) ? "_resave" : "") + "_" +
                                  std::get<2>(info.param);
                         });

}  // namespace
}  // namespace sessionkit::test
