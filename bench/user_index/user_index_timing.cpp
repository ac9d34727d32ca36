// How long `engine::sessions_of` and `engine::destroy_all_of` take with many sessions stored
// (issue 16's benchmark): fills a store with N sessions of N/K users (K each), then times
// listing one user's K sessions and logging that user out everywhere. The cost should follow K,
// not N.
//
//   sessionkit_user_index_timing --store memory|redis://HOST:PORT|sqlite:PATH [--sessions N] [--per-user K]

#include <sessionkit/engine.hpp>
#include <sessionkit/stores/memory_store.hpp>
#include <sessionkit/stores/redis_store.hpp>
#include <sessionkit/stores/sqlite_store.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

std::string record_of(const std::string& user, long long n) {
  return R"({"cookie":{"originalMaxAge":86400000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"_sessionkit_created":)" +
         std::to_string(1700000000000LL + n) + R"(,"_sessionkit_seen":1700000000000,"user":")" + user + R"(","count":1})";
}
// A 32-character base64url id that looks like a random one (the memory store shards and hashes
// by an id's first bytes, as real ids are random), the same for the same `n`.
std::string id_of(long long n) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::uint64_t x = std::uint64_t(n) * 0x9E3779B97F4A7C15ULL + 1;
  std::string id;
  for (int i = 0; i < 32; ++i) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 29;
    id.push_back(alphabet[x & 63]);
  }
  return id;
}
std::string user_of(long long n, long long per_user) { return "user" + std::to_string(n / per_user); }

double ms_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string url = "memory";
  long long sessions = 1'000'000, per_user = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--store") url = argv[i + 1];
    else if (flag == "--sessions") sessions = std::stoll(argv[i + 1]);
    else if (flag == "--per-user") per_user = std::stoll(argv[i + 1]);
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  const auto expires = sessionkit::timestamp(std::chrono::milliseconds(1893456000000LL));  // 2030

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::shared_ptr<sessionkit::store> store;
  const auto filling = clock_type::now();
  if (url == "memory") {
    sessionkit::memory_store_options o;
    o.max_sessions = 0;
    o.max_bytes = 0;
    auto memory = std::make_shared<sessionkit::memory_store>(io.get_executor(), o);
    store = memory;
    for (long long n = 0; n < sessions; ++n) {
      const std::string user = user_of(n, per_user);
      memory->set(id_of(n), {record_of(user, n), expires, user}, [](std::error_code) {});
    }
  } else if (url.rfind("sqlite:", 0) == 0) {
    const std::string path = url.substr(7);
    std::remove(path.c_str());
    {  // the schema, made by the store itself, then the rows in one transaction
      sessionkit::sqlite_store_options o;
      o.path = path;
      sessionkit::sqlite_store(io.get_executor(), o).shutdown();
    }
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO sessions (id, record, expires, user) VALUES (?1, ?2, ?3, ?4)", -1, &st, nullptr);
    for (long long n = 0; n < sessions; ++n) {
      const std::string id = id_of(n), user = user_of(n, per_user), record = record_of(user, n);
      sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 2, record.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(st, 3, expires.time_since_epoch().count());
      sqlite3_bind_text(st, 4, user.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_step(st);
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    sessionkit::sqlite_store_options o;
    o.path = path;
    store = std::make_shared<sessionkit::sqlite_store>(io.get_executor(), o);
  } else {
    sessionkit::redis_store_options o;
    o.endpoint = sessionkit::parse_redis_url(url);
    o.command_timeout = std::chrono::seconds(30);
    auto redis = std::make_shared<sessionkit::redis_store>(io.get_executor(), o);
    while (!redis->ready()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    store = redis;
    constexpr long long batch = 20'000;  // in flight at once: pipelined on the connection
    for (long long from = 0; from < sessions; from += batch) {
      std::atomic<long long> left{std::min(batch, sessions - from)};
      std::promise<void> done;
      for (long long n = from; n < std::min(from + batch, sessions); ++n) {
        const std::string user = user_of(n, per_user);
        redis->set(id_of(n), {record_of(user, n), expires, user}, [&](std::error_code) {
          if (--left == 0) done.set_value();
        });
      }
      done.get_future().wait();
    }
  }
  std::printf("store %s: %lld sessions of %lld users filled in %.1f s\n", url.rfind("redis", 0) == 0 ? "redis" : url.c_str(),
              sessions, sessions / per_user, ms_since(filling) / 1000);

  sessionkit::options opts;
  opts.secrets = {"a benchmark secret of thirty-two bytes!"};
  const sessionkit::engine engine(opts, store);
  auto list = [&](const std::string& user) {
    std::promise<std::size_t> p;
    engine.sessions_of(user, [&](std::error_code ec, std::vector<sessionkit::user_session> v) {
      if (ec) std::cerr << "sessions_of: " << ec.message() << "\n";
      p.set_value(v.size());
    });
    return p.get_future().get();
  };
  std::vector<double> times;
  std::size_t found = 0;
  for (int round = 0; round < 51; ++round) {
    const std::string user = user_of((round * 7919LL * per_user) % sessions, per_user);
    const auto start = clock_type::now();
    found = list(user);
    times.push_back(ms_since(start));
  }
  std::sort(times.begin(), times.end());
  std::printf("sessions_of: %zu sessions listed, median %.3f ms, max %.3f ms (51 users)\n", found, times[25], times.back());
  times.clear();
  std::size_t ended = 0;
  for (int round = 0; round < 21; ++round) {
    const std::string user = user_of((round * 104729LL * per_user + per_user) % sessions, per_user);
    std::promise<std::size_t> p;
    const auto start = clock_type::now();
    engine.destroy_all_of(user, "", [&](std::error_code ec, std::size_t n) {
      if (ec) std::cerr << "destroy_all_of: " << ec.message() << "\n";
      p.set_value(n);
    });
    ended = p.get_future().get();
    times.push_back(ms_since(start));
  }
  std::sort(times.begin(), times.end());
  std::printf("destroy_all_of: %zu sessions ended, median %.3f ms, max %.3f ms (21 users)\n", ended, times[10], times.back());
  store->shutdown();
  work.reset();
  io.stop();
  runner.join();
  return 0;
}
