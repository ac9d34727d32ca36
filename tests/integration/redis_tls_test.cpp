// RedisStore over TLS (rediss://) against a real redis-server with --tls-port, with a CA and
// certificates made by openssl for the test: the counter works and survives a Redis restart; a
// wrong CA, an expired certificate, a name that does not match, a plain-TCP Redis behind a
// rediss:// URL and a client certificate required but missing each give 503s with the cause in
// the log, never a crash or a hang; with the client certificate it works.

#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <thread>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;

class redis_tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = std::filesystem::temp_directory_path() / ("sessionkit-tls-" + std::to_string(::getpid()));
    child_process make(find_program("bash"), {SESSIONKIT_TLS_CERTS_SCRIPT, certs_.string()});
    const exit_status status = make.wait(60s);
    ASSERT_TRUE(status.success()) << make.stderr_text();
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(certs_); }

  static std::string cert(const char* name) { return (certs_ / name).string(); }

  // A Redis with a TLS port (its plain port stays for the test's own checks).
  void start_redis(const std::string& server_cert, bool require_client_cert = false, bool persistent = false) {
    tls_port_ = free_port();
    redis_ = std::make_unique<redis_server>(
        persistent, std::vector<std::string>{"--tls-port", std::to_string(tls_port_), "--tls-cert-file", server_cert,
                                             "--tls-key-file", cert("server.key"), "--tls-ca-cert-file",
                                             cert("ca.crt"), "--tls-auth-clients",
                                             require_client_cert ? "yes" : "no"});
  }

  std::uint16_t start_app(const std::string& url, std::vector<std::string> more = {}) {
    std::vector<std::string> args{"--port", "0", "--store", url, "--redis-connect-timeout", "1000",
                                  "--redis-command-timeout", "1000"};
    args.insert(args.end(), more.begin(), more.end());
    app_ = std::make_unique<child_process>(SESSIONKIT_EXAMPLE_PATH, args);
    return app_->wait_for_listening().port;
  }

  std::string tls_url(const char* host = "127.0.0.1") const {
    return std::string("rediss://") + host + ":" + std::to_string(tls_port_);
  }

  // The app keeps answering 503 (never hangs, never dies) and says why in its log (one of
  // `causes`: how a refusal reaches the client can depend on timing).
  void expect_refused(std::uint16_t port, const std::string& cause, const std::string& or_cause = {}) {
    for (int i = 0; i < 3; ++i) {
      const response r = get(port, "/redis-store-counter", {}, 5s);
      EXPECT_EQ(r.status, 503u) << describe(r);
      std::this_thread::sleep_for(200ms);
    }
    EXPECT_TRUE(app_->running());
    const bool said = app_->wait_for_stderr(cause, 2s) || (!or_cause.empty() && app_->wait_for_stderr(or_cause, 0s));
    EXPECT_TRUE(said) << "expected '" << cause << "' in:\n" << app_->stderr_text();
  }

  static inline std::filesystem::path certs_;
  std::unique_ptr<redis_server> redis_;
  std::uint16_t tls_port_ = 0;
  std::unique_ptr<child_process> app_;
};

TEST_F(redis_tls, the_counter_works_over_tls_and_survives_a_redis_restart) {
  start_redis(cert("server.crt"), false, /*persistent=*/true);
  const auto port = start_app(tls_url(), {"--redis-tls-ca", cert("ca.crt")});
  cookie_jar jar;
  for (int i = 1; i <= 3; ++i) {
    const response r = get(port, "/redis-store-counter", jar.headers());
    ASSERT_EQ(r.body, "count is " + std::to_string(i)) << describe(r) << app_->stderr_text();
    jar.store(r);
  }
  EXPECT_EQ(redis_->keys("sess:*").size(), 1u);  // connect-redis's keys, over TLS as over TCP
  redis_->stop();
  EXPECT_EQ(get(port, "/redis-store-counter", jar.headers()).status, 503u);
  redis_->start();
  response r;
  for (int i = 0; i < 50 && (r = get(port, "/redis-store-counter", jar.headers())).status != 200; ++i)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(r.body, "count is 4") << describe(r);
}

TEST_F(redis_tls, the_host_name_is_verified_too) {
  start_redis(cert("server.crt"));
  // "localhost" is in the certificate as well.
  const auto port = start_app(tls_url("localhost"), {"--redis-tls-ca", cert("ca.crt")});
  EXPECT_EQ(get(port, "/redis-store-counter").body, "count is 1");
  app_.reset();
  const auto other = start_app(tls_url(), {"--redis-tls-ca", cert("ca.crt"), "--redis-tls-server-name", "redis.example.com"});
  expect_refused(other, "certificate verify failed");
}

TEST_F(redis_tls, a_wrong_ca_is_a_503_with_the_cause_logged) {
  start_redis(cert("server.crt"));
  expect_refused(start_app(tls_url(), {"--redis-tls-ca", cert("other-ca.crt")}), "certificate verify failed");
}

TEST_F(redis_tls, an_expired_certificate_is_a_503_with_the_cause_logged) {
  start_redis(cert("expired.crt"));
  expect_refused(start_app(tls_url(), {"--redis-tls-ca", cert("ca.crt")}), "certificate has expired");
}

TEST_F(redis_tls, a_plain_tcp_redis_behind_a_rediss_url_is_a_503_not_a_hang) {
  redis_server plain;
  expect_refused(start_app("rediss://127.0.0.1:" + std::to_string(plain.port()), {"--redis-tls-ca", cert("ca.crt")}),
                 "TLS handshake");
}

TEST_F(redis_tls, a_required_client_certificate_missing_is_a_503_and_given_works) {
  start_redis(cert("server.crt"), /*require_client_cert=*/true);
  // Redis sends the alert and closes: a read sees the alert, a write racing the close a reset.
  expect_refused(start_app(tls_url(), {"--redis-tls-ca", cert("ca.crt")}), "certificate required",
                 "while logging in (write failed: Connection reset");
  app_.reset();
  const auto port = start_app(tls_url(), {"--redis-tls-ca", cert("ca.crt"), "--redis-tls-cert", cert("client.crt"),
                                          "--redis-tls-key", cert("client.key")});
  EXPECT_EQ(get(port, "/redis-store-counter").body, "count is 1") << app_->stderr_text();
}

TEST_F(redis_tls, unreadable_tls_files_stop_the_server_at_start_with_a_clear_message) {
  child_process app(SESSIONKIT_EXAMPLE_PATH, {"--port", "0", "--store", "rediss://127.0.0.1:1", "--redis-tls-ca",
                                              "/nonexistent/ca.pem"});
  const exit_status status = app.wait(10s);
  EXPECT_TRUE(status.exited && status.code != 0) << status;
  EXPECT_NE(app.stderr_text().find("/nonexistent/ca.pem"), std::string::npos) << app.stderr_text();
  child_process plain(SESSIONKIT_EXAMPLE_PATH,
                      {"--port", "0", "--store", "redis://127.0.0.1:1", "--redis-tls-ca", cert("ca.crt")});
  EXPECT_EQ(plain.wait(10s).code, 2);  // TLS files without a rediss:// URL: a flag error
}

}  // namespace
}  // namespace sessionkit::test
