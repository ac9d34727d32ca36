// Every store in the repository against the conformance suite.

#include "store_conformance.hpp"

#include "support/redis_cluster.hpp"
#include "support/redis_server.hpp"

#include <sessionkit/stores/memory_store.hpp>
#include <sessionkit/stores/redis_store.hpp>
#include <sessionkit/stores/sqlite_store.hpp>

#include <atomic>
#include <filesystem>

namespace sessionkit::conformance {
namespace {

using namespace std::chrono_literals;

store_factory memory() {
  return {"memory",
          [](boost::asio::any_io_executor ex) { return std::make_shared<memory_store>(ex); }};
}

// One redis-server for the whole run; each test gets its own key prefix.
test::redis_server& shared_redis() {
  static test::redis_server server;
  return server;
}

// A RedisStore at `url()` (the server or cluster is made on first use); each test gets its own
// key prefixes.
template <class Url>
store_factory redis_at(std::string name, Url url) {
  return {std::move(name),
          [url](boost::asio::any_io_executor ex) {
            static std::atomic<int> counter{0};
            redis_store_options o;
            o.endpoint = parse_redis_url(url());
            o.prefix = "conformance" + std::to_string(++counter) + ":";
            o.user_index_prefix = "conformance-user" + std::to_string(counter) + ":";
            auto s = std::make_shared<redis_store>(ex, o);
            for (int i = 0; i < 500 && !s->ready(); ++i) std::this_thread::sleep_for(5ms);
            return s;
          },
          1000ms};
}

store_factory redis() {
  return redis_at("redis", [] { return shared_redis().url(); });
}

// One three-master Redis Cluster for the whole run (ctest runs each test in a process of its
// own, so each makes its cluster; a second or two).
test::redis_cluster& shared_cluster() {
  static test::redis_cluster cluster(3, 0);
  return cluster;
}

store_factory redis_cluster() {
  return redis_at("redis_cluster", [] { return shared_cluster().url(); });
}

store_factory sqlite() {
  return {"sqlite",
          [](boost::asio::any_io_executor ex) {
            static std::atomic<int> counter{0};
            sqlite_store_options o;
            o.path = (std::filesystem::temp_directory_path() /
                      ("sessionkit-conformance-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".db"))
                         .string();
            std::filesystem::remove(o.path);
            return std::make_shared<sqlite_store>(ex, o);
          }};
}

INSTANTIATE_TEST_SUITE_P(stores, store_conformance, ::testing::Values(memory(), redis(), redis_cluster(), sqlite()), factory_name);

}  // namespace
}  // namespace sessionkit::conformance
