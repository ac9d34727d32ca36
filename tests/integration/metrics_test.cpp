// GET /metrics on every example server (--metrics): the text parses with the real Prometheus
// parser, the counters equal the requests sent and only grow.

#include "example_binaries.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>

#include <thread>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

// The samples of a /metrics answer, parsed by prometheus_client: "name{labels}" -> value.
std::map<std::string, double> parse(const std::string& text) {
  static int n = 0;  // each test process writes its own files (ctest runs them in parallel)
  const std::string stem = ::testing::TempDir() + "sessionkit-metrics-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
  const std::string in = stem + "-in.txt", out = stem + "-out.txt";
  std::ofstream(in) << text;
  const std::string command = std::string("/usr/bin/python3 ") + SESSIONKIT_PARSE_METRICS + " < " + in + " > " + out;
  EXPECT_EQ(std::system(command.c_str()), 0) << "the Prometheus parser refused:\n" << text;
  std::map<std::string, double> samples;
  std::ifstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  std::remove(in.c_str());
  std::remove(out.c_str());
  return samples;
}

class metrics_endpoint : public ::testing::TestWithParam<example_binary> {};

TEST_P(metrics_endpoint, counts_what_the_requests_did) {
  child_process server(GetParam().path, {"--port", "0", "--metrics"});
  const auto port = server.wait_for_listening().port;
  cookie_jar jar;
  jar.store(get(port, "/memory-store-counter"));                                   // created, saved
  for (int i = 0; i < 9; ++i) ASSERT_EQ(get(port, "/memory-store-counter", jar.headers()).status, 200u);  // loaded, saved
  const auto first = get(port, "/metrics");
  ASSERT_EQ(first.status, 200u);
  EXPECT_NE(first.header("Content-Type").value_or("").find("text/plain"), std::string::npos);
  const auto before = parse(first.body);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(get(port, "/session-read", jar.headers()).status, 200u);  // loaded, touched
  ASSERT_EQ(get(port, "/session-destroy", jar.headers()).body, "Session Destroyed!");  // loaded, destroyed
  const auto after = parse(get(port, "/metrics").body);

  EXPECT_EQ(before.at("sessionkit_sessions_created_total{}"), 1);
  EXPECT_EQ(before.at("sessionkit_sessions_loaded_total{}"), 9);
  EXPECT_EQ(before.at("sessionkit_sessions_saved_total{}"), 10);
  EXPECT_EQ(after.at("sessionkit_sessions_created_total{}"), 1);
  EXPECT_EQ(after.at("sessionkit_sessions_loaded_total{}"), 15);
  EXPECT_EQ(after.at("sessionkit_sessions_saved_total{}"), 10);
  EXPECT_EQ(after.at("sessionkit_sessions_touched_total{}"), 5);
  EXPECT_EQ(after.at("sessionkit_sessions_destroyed_total{}"), 1);
  EXPECT_EQ(after.at("sessionkit_store_errors_total{kind=unavailable}"), 0);
  EXPECT_EQ(after.at("sessionkit_store_operation_seconds_count{operation=get}"), 15);
  EXPECT_EQ(after.at("sessionkit_store_operation_seconds_count{operation=set}"), 10);
  EXPECT_EQ(after.at("sessionkit_store_operation_seconds_count{operation=touch}"), 5);
  EXPECT_EQ(after.at("sessionkit_store_operation_seconds_count{operation=destroy}"), 1);
  EXPECT_EQ(after.at("sessionkit_store_operation_seconds_bucket{le=+Inf,operation=get}"), 15);
  EXPECT_EQ(after.at("sessionkit_sessions_expired_total{}"), 0);
  for (const auto& [name, value] : before) EXPECT_GE(after.at(name), value) << name << " went down";
  // The destroyed session's cookie again: the store no longer has it, a new one takes its place.
  ASSERT_EQ(get(port, "/memory-store-counter", jar.headers()).body, "count is 1");
  const auto later = parse(get(port, "/metrics").body);
  EXPECT_EQ(later.at("sessionkit_sessions_expired_total{}"), 1);
  EXPECT_EQ(later.at("sessionkit_sessions_created_total{}"), 2);
}

TEST_P(metrics_endpoint, counts_sessions_that_expired) {
  child_process server(GetParam().path, {"--port", "0", "--metrics", "--max-age", "300"});
  const auto port = server.wait_for_listening().port;
  const auto made = get(port, "/memory-store-counter");
  ASSERT_EQ(made.set_cookies.size(), 1u);
  // Sent as it came (a cookie jar would drop it: its Expires, in whole seconds, may be past).
  const header_list cookie{{"Cookie", made.set_cookies[0].substr(0, made.set_cookies[0].find(';'))}};
  std::this_thread::sleep_for(600ms);
  ASSERT_EQ(get(port, "/memory-store-counter", cookie).body, "count is 1");  // a new session
  const auto counts = parse(get(port, "/metrics").body);
  EXPECT_EQ(counts.at("sessionkit_sessions_expired_total{}"), 1);
  EXPECT_EQ(counts.at("sessionkit_sessions_created_total{}"), 2);
  EXPECT_EQ(counts.at("sessionkit_sessions_loaded_total{}"), 0);
}

TEST_P(metrics_endpoint, is_absent_without_the_flag) {
  child_process server(GetParam().path, {"--port", "0"});
  EXPECT_EQ(get(server.wait_for_listening().port, "/metrics").status, 404u);
}

INSTANTIATE_TEST_SUITE_P(frameworks, metrics_endpoint, ::testing::ValuesIn(example_binaries()), framework_name);

}  // namespace
}  // namespace sessionkit::test
