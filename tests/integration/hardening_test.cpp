// Hardening, end to end against the real example server: hostile HTTP input, store faults under
// load, and graceful shutdown. The server must stay up, answer with the right status, keep memory
// bounded, and never report a failed write as a success.

#include "example_binaries.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sqlite3.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

const std::string secret = "Rs89I67YEA55cLMgi0t6oyr8568e6KtD";

// cookie-signature's sign(), computed here independently of the library.
std::string signed_cookie(const std::string& id, const std::string& key = secret) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(id.data()), id.size(), mac, &len);
  std::string b64(4 * ((len + 2) / 3), '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), mac, int(len));
  while (!b64.empty() && (b64.back() == '=' || b64.back() == '\0')) b64.pop_back();
  std::string value = "s:" + id + "." + b64, out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || (c != 0 && std::strchr("-_.!~*'()", c))) {
      out.push_back(char(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return "connect.sid=" + out;
}

long rss_kb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

class hardening : public ::testing::Test {
 protected:
  std::uint16_t start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<child_process>(SESSIONKIT_EXAMPLE_PATH, args);
    port_ = server_->wait_for_listening().port;
    return port_;
  }
  void TearDown() override {
    if (server_ && server_->running()) {
      EXPECT_TRUE(server_->terminate().success()) << server_->stderr_text();
    }
  }
  response counter(const std::string& cookie = "") {
    header_list h;
    if (!cookie.empty()) h.emplace_back("Cookie", cookie);
    return get(port_, "/memory-store-counter", h);
  }
  // The server still counts 1, 2 for a new client.
  void still_serving() {
    cookie_jar jar;
    auto a = get(port_, "/memory-store-counter", jar.headers());
    jar.store(a);
    auto b = get(port_, "/memory-store-counter", jar.headers());
    EXPECT_EQ(a.body, "count is 1");
    EXPECT_EQ(b.body, "count is 2");
  }

  std::unique_ptr<child_process> server_;
  std::uint16_t port_ = 0;
};

TEST_F(hardening, huge_header_is_refused_with_431) {
  start();
  const std::string request = "GET /memory-store-counter HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
  auto r = raw_exchange(port_, request);
  EXPECT_EQ(r.data.substr(0, 12), "HTTP/1.1 431") << r.data.substr(0, 80);
  still_serving();
}

TEST_F(hardening, a_thousand_cookies_are_parsed_and_the_session_found) {
  start();
  cookie_jar jar;
  auto first = get(port_, "/memory-store-counter", jar.headers());
  jar.store(first);
  std::string header;
  for (int i = 0; i < 1000; ++i) header += "c" + std::to_string(i) + "=v" + std::to_string(i) + "; ";
  header += jar.cookie_header();
  auto r = get(port_, "/memory-store-counter", {{"Cookie", header}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "count is 2");
}

TEST_F(hardening, hostile_cookie_values_get_a_fresh_session_never_a_5xx) {
  start();
  const std::vector<std::string> raw_headers{
      "connect.sid=s%3Aabc%00def.sig",                 // NUL, escaped
      "connect.sid=s:\xC3\x28.\xFF\xFE",               // invalid UTF-8
      "connect.sid=s%3A%E0%A4%A.zz",                   // invalid percent-encoding
      "connect.sid=s%3Aabc.short",                     // signature of the wrong length
      "connect.sid=s%3Aabc." + std::string(200, 'A'),  // far too long
      "connect.sid=" + std::string(8000, '%'),
  };
  for (const auto& h : raw_headers) {
    SCOPED_TRACE(h.substr(0, 60));
    auto r = counter(h);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "count is 1");
  }
  // Raw CR, LF and NUL inside the header value are not HTTP: a 4xx, never a 5xx.
  for (const std::string& bad : std::vector<std::string>{"connect.sid=a\rb", std::string("connect.sid=a\0b", 15)}) {
    auto r = raw_exchange(port_, "GET /memory-store-counter HTTP/1.1\r\nHost: x\r\nCookie: " + bad + "\r\n\r\n");
    ASSERT_GE(r.data.size(), 12u);
    EXPECT_EQ(r.data[9], '4') << r.data.substr(0, 40);
  }
  still_serving();
}

TEST_F(hardening, validly_signed_unknown_or_odd_ids_get_a_new_id) {
  start();
  for (const std::string& id : std::vector<std::string>{"not-in-store", "../../etc/passwd", "a/b/c", "..", std::string("nul\0id", 6), "%00", "sess:*"}) {
    SCOPED_TRACE(id);
    auto r = counter(signed_cookie(id));
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "count is 1");
    ASSERT_EQ(r.set_cookies.size(), 1u);
    EXPECT_EQ(r.set_cookies[0].find(signed_cookie(id).substr(12)), std::string::npos);  // a fresh id, not the forged one
  }
  still_serving();
}

TEST_F(hardening, session_over_the_size_limit_is_refused_and_nothing_is_stored) {
  start({"--max-session-bytes", "2000"});
  cookie_jar jar;
  auto first = get(port_, "/memory-store-counter", jar.headers());
  jar.store(first);
  // POST a 5 KB value into the session: refused, clear text, no cookie.
  const std::string body = R"({"blob":")" + std::string(5000, 'x') + "\"}";
  std::string request = "POST /session-data HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nCookie: " +
                        jar.cookie_header() + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  auto r = raw_exchange(port_, request);
  EXPECT_EQ(r.data.substr(0, 12), "HTTP/1.1 500") << r.data.substr(0, 200);
  EXPECT_NE(r.data.find("session too large"), std::string::npos);
  EXPECT_EQ(r.data.find("Set-Cookie"), std::string::npos);
  // The stored session is the one before the refused write.
  auto data = get(port_, "/session-data", jar.headers());
  EXPECT_EQ(data.body, R"({"count":1})");
}

TEST_F(hardening, slow_clients_are_cut_off_by_the_read_timeout) {
  start({"--read-timeout", "500"});
  const int fd = connect_raw(port_);
  ASSERT_GE(fd, 0);
  const std::string partial = "GET /memory-store-counter HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(::send(fd, partial.data(), partial.size(), 0), ssize_t(partial.size()));
  const auto t0 = std::chrono::steady_clock::now();
  char buf[256];
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);  // 0: closed by the server
  const auto waited = std::chrono::steady_clock::now() - t0;
  ::close(fd);
  EXPECT_LE(n, 0);
  EXPECT_GE(waited, 400ms);
  EXPECT_LT(waited, 3s);
  still_serving();
}

TEST_F(hardening, a_flood_of_cookieless_requests_never_pushes_out_a_session_with_data) {
  start({"--memory-max-sessions", "50"});
  cookie_jar jar;
  auto first = counter();
  ASSERT_EQ(first.body, "count is 1");
  jar.store(first);
  // Cookieless requests make sessions with no data: they go first when the store is full.
  for (int i = 0; i < 300; ++i) {
    const auto r = get(port_, "/session-read");
    ASSERT_EQ(r.status, 200u) << i << ": " << describe(r);
  }
  EXPECT_EQ(get(port_, "/memory-store-counter", jar.headers()).body, "count is 2");
  // Cookieless requests that store data: once only such sessions are left, new ones get a 503
  // and existing users keep working.
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    const auto r = counter();
    if (r.status == 503) {
      ++refused;
      EXPECT_EQ(r.header("Retry-After"), "1");
      EXPECT_FALSE(r.header("Set-Cookie"));
    } else {
      EXPECT_EQ(r.status, 200u) << describe(r);
    }
  }
  EXPECT_GE(refused, 50);
  EXPECT_EQ(get(port_, "/memory-store-counter", jar.headers()).body, "count is 3");
}

TEST_F(hardening, hundreds_of_idle_connections_do_not_stop_service_and_memory_stays_bounded) {
  start();
  const long rss_before = rss_kb(server_->pid());
  std::vector<int> idle;
  for (int i = 0; i < 400; ++i) {
    const int fd = connect_raw(port_);
    if (fd >= 0) idle.push_back(fd);
  }
  EXPECT_GE(idle.size(), 390u);
  std::this_thread::sleep_for(100ms);
  const auto t0 = std::chrono::steady_clock::now();
  still_serving();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  const long rss_after = rss_kb(server_->pid());
  RecordProperty("rss_growth_kb_for_400_idle_connections", std::to_string(rss_after - rss_before));
  EXPECT_LT(rss_after - rss_before, 64 * 1024) << "RSS grew by " << (rss_after - rss_before) << " KiB";
  for (int fd : idle) ::close(fd);
  still_serving();
}

// --- store faults under load ------------------------------------------------------------------

// Clients each counting on their own session; every 200 body must be one more than the
// previous 200 (or more, when a write that failed had reached the store anyway): a smaller or
// equal count would be a write reported as done and then lost.
struct load_result {
  std::atomic<long> ok{0}, unavailable{0}, other{0}, lost{0};
};

void run_clients(std::uint16_t port, const std::string& path, int clients, std::atomic<bool>& stop, load_result& out,
                 std::vector<std::pair<std::string, int>>& finals, std::mutex& finals_mutex) {
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, path] {
      cookie_jar jar;
      int last = 0;
      while (!stop) {
        response r;
        try {
          r = get(port, path, jar.headers(), 3s);
        } catch (const std::exception&) {
          ++out.other;
          continue;
        }
        if (r.status == 200) {
          jar.store(r);
          const int n = std::stoi(r.body.substr(9));
          if (last != 0 && n <= last) ++out.lost;
          if (last == 0 && n != 1) ++out.lost;
          last = n;
          ++out.ok;
        } else if (r.status == 503) {
          ++out.unavailable;
        } else {
          ++out.other;
        }
      }
      std::lock_guard lock(finals_mutex);
      finals.emplace_back(jar.cookie_header(), last);
    });
  }
  for (auto& t : threads) t.join();
}

// Clients counting on `server` (started with --threads 2 on a store) for 800 ms, then SIGTERM:
// the server's exit status, what the clients saw, and each client's cookie and last count.
struct shutdown_run {
  exit_status status;
  load_result result;
  std::vector<std::pair<std::string, int>> finals;
};

void sigterm_under_load(child_process& server, const std::string& path, shutdown_run& out) {
  const auto port = server.wait_for_listening().port;
  std::atomic<bool> stop{false};
  std::mutex finals_mutex;
  std::thread load([&] { run_clients(port, path, 8, stop, out.result, out.finals, finals_mutex); });
  std::this_thread::sleep_for(800ms);
  server.send_signal(SIGTERM);
  out.status = server.wait(15s);
  stop = true;
  load.join();
  EXPECT_TRUE(out.status.success()) << out.status << "\n" << server.stderr_text();
  EXPECT_EQ(out.result.lost.load(), 0);
  EXPECT_GT(out.result.ok.load(), 50);
  EXPECT_EQ(out.result.unavailable.load(), 0) << "requests answered 503 while the server shut down";
}

// The session id in a connect.sid cookie header (connect.sid=s%3A<id>.<signature>).
std::string session_id_of(const std::string& cookie) {
  const std::string value = cookie.substr(cookie.find("s%3A") + 4);
  return value.substr(0, value.rfind('.'));
}

TEST(hardening_faults, redis_killed_slowed_and_full_under_load_loses_no_write) {
  redis_server redis(/*persistent=*/true);
  child_process server(SESSIONKIT_EXAMPLE_PATH, {"--port", "0", "--threads", "2", "--store", redis.url(),
                                                  "--redis-command-timeout", "300", "--redis-connect-timeout", "300"});
  const auto port = server.wait_for_listening().port;
  // wrk adds background load (new sessions) when it is installed.
  std::unique_ptr<child_process> wrk;
  try {
    wrk = std::make_unique<child_process>(find_program("wrk"),
        std::vector<std::string>{"-t1", "-c8", "-d8s", "http://127.0.0.1:" + std::to_string(port) + "/redis-store-counter"});
  } catch (const std::exception&) {
  }
  load_result result;
  std::atomic<bool> stop{false};
  std::vector<std::pair<std::string, int>> finals;
  std::mutex finals_mutex;
  std::thread load([&] { run_clients(port, "/redis-store-counter", 6, stop, result, finals, finals_mutex); });

  std::this_thread::sleep_for(700ms);
  redis.kill();  // 1. Redis killed...
  std::this_thread::sleep_for(700ms);
  redis.start();  // ...and restarted (AOF, fsync always: nothing acknowledged is lost)
  std::this_thread::sleep_for(1500ms);
  std::thread sleeper([&] { redis.command({"DEBUG", "SLEEP", "1"}); });  // 2. Redis slowed
  sleeper.join();
  std::this_thread::sleep_for(1500ms);
  redis.command({"CONFIG", "SET", "maxmemory", "1"});  // 3. Redis refusing writes
  redis.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  std::this_thread::sleep_for(700ms);
  redis.command({"CONFIG", "SET", "maxmemory", "0"});
  std::this_thread::sleep_for(1500ms);
  stop = true;
  load.join();
  if (wrk) wrk->wait(15s);

  EXPECT_TRUE(server.running());
  EXPECT_GT(result.ok.load(), 100);
  EXPECT_GT(result.unavailable.load(), 0);  // the faults were seen, as 503s
  EXPECT_EQ(result.other.load(), 0);        // nothing but 200 and 503
  EXPECT_EQ(result.lost.load(), 0);
  // Full service after: every client's session holds at least its last acknowledged count.
  for (const auto& [cookie, last] : finals) {
    if (last == 0) continue;
    auto r = get(port, "/session-read", {{"Cookie", cookie}});
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_GE(std::stoi(r.body.substr(9)), last);
  }
  RecordProperty("requests_ok", std::to_string(result.ok.load()));
  RecordProperty("requests_503", std::to_string(result.unavailable.load()));
  RecordProperty("writes_lost", std::to_string(result.lost.load()));
  std::printf("faults: %ld ok, %ld 503, %ld other, %ld lost\n", result.ok.load(), result.unavailable.load(),
              result.other.load(), result.lost.load());
  EXPECT_TRUE(server.terminate().success());
}

TEST(hardening_shutdown, sigterm_under_load_finishes_requests_and_their_writes) {
  const auto dir = std::filesystem::temp_directory_path() / ("sessionkit-shutdown-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string db = (dir / "s.db").string();
  child_process server(SESSIONKIT_EXAMPLE_PATH, {"--port", "0", "--threads", "2", "--store", "sqlite:" + db});
  shutdown_run run;
  sigterm_under_load(server, "/sqlite-store-counter", run);
  const auto& [status, result, finals] = run;
  // Every acknowledged count is in the database, under that client's session id.
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  long acknowledged = 0, stored = 0;
  for (const auto& [cookie, last] : finals) {
    if (last == 0) continue;
    acknowledged += last;
    const std::string id = session_id_of(cookie);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(handle, "SELECT record FROM sessions WHERE id = ?1", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    int count = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
      const std::string rec = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      std::smatch m;
      if (std::regex_search(rec, m, std::regex(R"("count":(\d+))"))) count = std::stoi(m[1]);
    }
    sqlite3_finalize(st);
    EXPECT_GE(count, last) << id;
    stored += count;
  }
  sqlite3_close(handle);
  EXPECT_GE(stored, acknowledged);
  RecordProperty("requests_ok", std::to_string(result.ok.load()));
  std::printf("shutdown: %ld ok, %ld 503, %ld refused or cut, acknowledged %ld, stored %ld\n", result.ok.load(),
              result.unavailable.load(), result.other.load(), acknowledged, stored);
  std::filesystem::remove_all(dir);
}

// The same on Redis, with every framework: a request the server accepted before the SIGTERM
// finishes with its write (the store closes after the last request, not under it: none is
// answered 503), and the process exits cleanly (under ASan: nothing left holding the store).
class shutdown_on_redis : public ::testing::TestWithParam<example_binary> {};

TEST_P(shutdown_on_redis, sigterm_under_load_finishes_accepted_requests_and_their_writes) {
  redis_server redis(/*persistent=*/true);
  child_process server(GetParam().path, {"--port", "0", "--threads", "2", "--store", redis.url()});
  shutdown_run run;
  sigterm_under_load(server, "/redis-store-counter", run);
  const auto& [status, result, finals] = run;
  long acknowledged = 0, stored = 0;
  for (const auto& [cookie, last] : finals) {
    if (last == 0) continue;
    acknowledged += last;
    const std::string id = session_id_of(cookie);
    const auto record = redis.get("sess:" + id);
    int count = -1;
    std::smatch m;
    if (record && std::regex_search(*record, m, std::regex(R"("count":(\d+))"))) count = std::stoi(m[1]);
    EXPECT_GE(count, last) << id;
    stored += count;
  }
  EXPECT_GE(stored, acknowledged);
  std::printf("shutdown on Redis (%s): %ld ok, %ld 503, %ld refused or cut, acknowledged %ld, stored %ld\n",
              GetParam().framework.c_str(), result.ok.load(), result.unavailable.load(), result.other.load(),
              acknowledged, stored);
}

INSTANTIATE_TEST_SUITE_P(frameworks, shutdown_on_redis, ::testing::ValuesIn(example_binaries()), framework_name);

}  // namespace
}  // namespace sessionkit::test
