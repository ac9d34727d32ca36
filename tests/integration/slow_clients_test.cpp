// Slow and many clients against every example server: a request must arrive whole within the
// read timeout (not per read), no fixed number of trickling clients can stop the others, and
// connections beyond the cap get a clear 503 while the open ones keep being served.

#include "example_binaries.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

// Sends a request head one byte at a time, `gap` apart, until the server closes the
// connection or `give_up` passes. @return how long the server let it go on
std::chrono::steady_clock::duration trickle(std::uint16_t port, std::chrono::milliseconds gap,
                                            std::chrono::milliseconds give_up, const std::atomic<bool>& stop) {
  const int fd = connect_raw(port);
  if (fd < 0) return {};
  const std::string head = "GET /memory-store-counter HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(400, 'p');
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; !stop && std::chrono::steady_clock::now() - t0 < give_up; ++i) {
    if (::send(fd, &head[i % head.size()], 1, MSG_NOSIGNAL) != 1) break;  // closed by the server
    std::this_thread::sleep_for(gap);
    char c;
    if (::recv(fd, &c, 1, MSG_DONTWAIT) == 0) break;  // closed by the server
  }
  const auto lasted = std::chrono::steady_clock::now() - t0;
  ::close(fd);
  return lasted;
}

class slow_clients : public ::testing::TestWithParam<example_binary> {
 protected:
  std::uint16_t start(std::vector<std::string> extra) {
    std::vector<std::string> args{"--port", "0"};  // each framework's default threading
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<child_process>(GetParam().path, args);
    return server_->wait_for_listening().port;
  }
  void TearDown() override {
    if (server_ && server_->running()) server_->terminate();
  }
  std::unique_ptr<child_process> server_;
};

TEST_P(slow_clients, a_request_must_arrive_whole_within_the_read_timeout) {
  const auto port = start({"--read-timeout", "1000"});
  std::atomic<bool> stop{false};
  // A byte every 100 ms would satisfy any per-read timeout forever.
  const auto lasted = trickle(port, 100ms, 10s, stop);
  EXPECT_LT(lasted, 5s) << "a trickling client kept its connection for "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(lasted).count() << " ms";
  EXPECT_EQ(get(port, "/memory-store-counter").status, 200u);
}

TEST_P(slow_clients, trickling_clients_do_not_stop_the_others) {
  const auto port = start({"--read-timeout", "20000"});
  std::atomic<bool> stop{false};
  std::vector<std::thread> slow;
  for (int i = 0; i < 16; ++i) slow.emplace_back([&] { trickle(port, 500ms, 15s, stop); });
  std::this_thread::sleep_for(500ms);  // all of them connected and trickling
  const auto t0 = std::chrono::steady_clock::now();
  response r;
  EXPECT_NO_THROW(r = get(port, "/memory-store-counter", {}, 5s));
  EXPECT_EQ(r.status, 200u) << describe(r);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  stop = true;
  for (auto& t : slow) t.join();
}

TEST_P(slow_clients, connections_beyond_the_cap_get_503_and_the_open_ones_are_served) {
  if (GetParam().framework == "restinio") GTEST_SKIP() << "the RESTinio example has no connection cap";
  const auto port = start({"--max-connections", "20"});
  std::vector<int> idle;
  for (int i = 0; i < 19; ++i) {
    const int fd = connect_raw(port);
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  connection mine(port);  // the 20th
  std::this_thread::sleep_for(300ms);
  const auto refused = raw_exchange(port, "GET /memory-store-counter HTTP/1.1\r\nHost: x\r\n\r\n", 3s);
  EXPECT_EQ(refused.data.rfind("HTTP/1.1 503 ", 0), 0u) << refused.data;
  EXPECT_NE(refused.data.find("Retry-After: 1"), std::string::npos) << refused.data;
  EXPECT_TRUE(refused.closed_by_peer);
  EXPECT_EQ(mine.get("/memory-store-counter").status, 200u);  // an open connection: served
  for (int fd : idle) ::close(fd);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(get(port, "/memory-store-counter").status, 200u);  // room again
}

INSTANTIATE_TEST_SUITE_P(frameworks, slow_clients, ::testing::ValuesIn(example_binaries()), framework_name);

}  // namespace
}  // namespace sessionkit::test
