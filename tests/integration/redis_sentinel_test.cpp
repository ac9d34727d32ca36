// RedisStore through Sentinel (redis-sentinel://) on a real set-up started on loopback: one
// master, two replicas, three sentinels. The master is killed with SIGKILL under load from
// several clients, and a planned SENTINEL FAILOVER runs under load: the app follows the new
// master without a restart, the error window is measured, and with --redis-wait-replicas 1 no
// acknowledged increment is lost. With every sentinel down the app keeps its master, and once
// that is gone too it answers 503 within the command timeout and keeps running.

#include "counter_load.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// redis-cli -p PORT ARGS..., its output.
std::string cli(std::uint16_t port, std::vector<std::string> args) {
  args.insert(args.begin(), {"-p", std::to_string(port)});
  child_process p(find_program("redis-cli"), std::move(args));
  (void)p.wait(10s);
  return p.stdout_text();
}

// The TLS files of a set-up that speaks TLS (made by tests/support/make_tls_certs.sh).
struct tls_files {
  std::filesystem::path dir;  // empty: plain TCP
  std::string file(const char* name) const { return (dir / name).string(); }
};

class sentinel_process {
 public:
  // With TLS, the sentinel also listens on a TLS port and speaks TLS to the master and replicas
  // (the plain port stays for the test's own checks).
  sentinel_process(std::uint16_t master_port, const std::filesystem::path& dir, const tls_files& tls = {})
      : port_(free_port()), tls_port_(tls.dir.empty() ? 0 : free_port()) {
    std::filesystem::create_directories(dir);
    const auto conf = dir / "sentinel.conf";
    std::ofstream out(conf);
    if (tls_port_)
      out << "tls-port " << tls_port_ << "\ntls-cert-file " << tls.file("server.crt") << "\ntls-key-file "
          << tls.file("server.key") << "\ntls-ca-cert-file " << tls.file("ca.crt")
          << "\ntls-auth-clients no\ntls-replication yes\n";
    out << "port " << port_ << "\nbind 127.0.0.1\ndir " << dir.string()
                        << "\nsentinel monitor mymaster 127.0.0.1 " << master_port
                        << " 2\nsentinel down-after-milliseconds mymaster 1000\n"
                           "sentinel failover-timeout mymaster 4000\nsentinel parallel-syncs mymaster 2\n";
    out.close();
    process_ = std::make_unique<child_process>(find_program("redis-server"),
                                               std::vector<std::string>{conf.string(), "--sentinel"});
  }
  std::uint16_t port() const { return port_; }
  std::uint16_t tls_port() const { return tls_port_; }
  void kill() { process_.reset(); }

 private:
  std::uint16_t port_;
  std::uint16_t tls_port_;
  std::unique_ptr<child_process> process_;
};

class redis_sentinel_setup : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sessionkit-sentinel-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::vector<std::string> common{"--repl-diskless-sync-delay", "0"};
    if (!tls_.dir.empty())
      common.insert(common.end(), {"--tls-cert-file", tls_.file("server.crt"), "--tls-key-file", tls_.file("server.key"),
                                   "--tls-ca-cert-file", tls_.file("ca.crt"), "--tls-auth-clients", "no",
                                   "--tls-replication", "yes"});
    // With TLS, replication and the sentinels go through each server's TLS port.
    const auto with_tls_port = [&](std::vector<std::string> args, std::uint16_t& tls_port) {
      if (!tls_.dir.empty()) {
        tls_port = free_port();
        args.insert(args.end(), {"--tls-port", std::to_string(tls_port)});
      }
      return args;
    };
    master_ = std::make_unique<redis_server>(false, with_tls_port(common, master_tls_port_));
    for (auto& r : replicas_) {
      std::uint16_t ignored = 0;
      auto args = with_tls_port(common, ignored);
      args.insert(args.end(), {"--replicaof", "127.0.0.1", std::to_string(master_address_port())});
      r = std::make_unique<redis_server>(false, args);
    }
    wait_for([&] { return count(cli(master_->port(), {"INFO", "replication"}), "state=online") == 2; },
             "the replicas to come online");
    for (int i = 0; i < 3; ++i)
      sentinels_.push_back(std::make_unique<sentinel_process>(master_address_port(), dir_ / std::to_string(i), tls_));
    // Each sentinel knows both replicas and the two other sentinels: a failover can be agreed.
    for (const auto& s : sentinels_)
      wait_for([&] {
        return count(cli(s->port(), {"SENTINEL", "replicas", "mymaster"}), "slave") >= 2 &&
               count(cli(s->port(), {"SENTINEL", "sentinels", "mymaster"}), "name") >= 2;
      }, "the sentinels to know each other and the replicas");
  }
  void TearDown() override {
    if (HasFailure() && app_) std::printf("app stderr:\n%s\n", app_->stderr_text().c_str());
    app_.reset();
    sentinels_.clear();
    std::filesystem::remove_all(dir_);
  }

  static std::size_t count(const std::string& text, const std::string& word) {
    std::size_t n = 0;
    for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
    return n;
  }
  static void wait_for(const std::function<bool()>& ready, const char* what) {
    const auto deadline = clock_type::now() + 20s;
    while (!ready()) {
      ASSERT_LT(clock_type::now(), deadline) << "timed out waiting for " << what;
      std::this_thread::sleep_for(100ms);
    }
  }

  // The port the sentinels know the master by (its TLS port in a TLS set-up).
  std::uint16_t master_address_port() const { return tls_.dir.empty() ? master_->port() : master_tls_port_; }

  std::string sentinel_url() const {
    std::string url = tls_.dir.empty() ? "redis-sentinel://" : "rediss-sentinel://";
    for (std::size_t i = 0; i < sentinels_.size(); ++i)
      url += (i ? "," : "") + std::string("127.0.0.1:") +
             std::to_string(tls_.dir.empty() ? sentinels_[i]->port() : sentinels_[i]->tls_port());
    return url + "/mymaster";
  }

  std::uint16_t start_app(std::vector<std::string> more = {}) {
    std::vector<std::string> args{"--port", "0", "--store", sentinel_url(), "--redis-command-timeout", "1000",
                                  "--redis-connect-timeout", "1000"};
    args.insert(args.end(), more.begin(), more.end());
    app_ = std::make_unique<child_process>(SESSIONKIT_EXAMPLE_PATH, args);
    const auto port = app_->wait_for_listening().port;
    wait_for([&] { return get(port, "/session-read").status == 200; }, "the app to reach the master");
    return port;
  }

  using load = counter_load;

  tls_files tls_;  // set before SetUp for a TLS set-up
  std::uint16_t master_tls_port_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<redis_server> master_;
  std::unique_ptr<redis_server> replicas_[2];
  std::vector<std::unique_ptr<sentinel_process>> sentinels_;
  std::unique_ptr<child_process> app_;
};

class redis_sentinel_failover : public redis_sentinel_setup, public ::testing::WithParamInterface<bool> {
 protected:
  // Kills the master under load from 4 clients; the app must follow the new master.
  int kill_master_under_load(std::uint16_t port) {
    load l;
    l.run(port, 4);
    std::this_thread::sleep_for(1s);
    const auto killed_at = clock_type::now();
    master_->kill();
    l.event = true;
    wait_for([&] { return l.successes_after_event > 40; }, "service to resume after the failover");
    std::this_thread::sleep_for(500ms);
    l.finish();
    const double recovery = std::chrono::duration<double, std::milli>(clock_type::now() - killed_at).count();
    std::printf("failover (SIGKILL, wait-replicas %s): 503s for %.0f ms, %d failed requests, recovered within "
                "%.0f ms, %d acknowledged increments lost\n",
                GetParam() ? "1" : "off", l.window_ms(), l.failures.load(), recovery, l.lost.load());
    RecordProperty("error_window_ms", std::to_string(l.window_ms()));
    RecordProperty("acknowledged_lost", std::to_string(l.lost.load()));
    EXPECT_TRUE(app_->running());
    const std::string master = cli(sentinels_[0]->port(), {"SENTINEL", "get-master-addr-by-name", "mymaster"});
    EXPECT_EQ(master.find(std::to_string(master_->port())), std::string::npos) << master;
    return l.lost;
  }
};

TEST_P(redis_sentinel_failover, a_killed_master_is_followed_without_a_restart) {
  std::vector<std::string> args;
  if (GetParam()) args = {"--redis-wait-replicas", "1", "--redis-wait-timeout", "500"};
  const int lost = kill_master_under_load(start_app(args));
  // Acknowledged means replicated: nothing acknowledged is lost. Without it, what the dead
  // master acknowledged but had not passed on is gone (reported above).
  if (GetParam()) {
    EXPECT_EQ(lost, 0) << "acknowledged increments lost";
  }
}

INSTANTIATE_TEST_SUITE_P(wait_replicas, redis_sentinel_failover, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "wait_1" : "no_wait"; });

TEST_F(redis_sentinel_setup, a_planned_failover_under_load_is_followed) {
  const auto port = start_app();
  load l;
  l.run(port, 4);
  std::this_thread::sleep_for(1s);
  const std::string answer = cli(sentinels_[0]->port(), {"SENTINEL", "FAILOVER", "mymaster"});
  EXPECT_NE(answer.find("OK"), std::string::npos) << answer;
  wait_for([&] {
    return cli(sentinels_[0]->port(), {"SENTINEL", "get-master-addr-by-name", "mymaster"})
               .find(std::to_string(master_->port())) == std::string::npos;
  }, "the sentinels to switch the master");
  l.event = true;
  wait_for([&] { return l.successes_after_event > 40; }, "service on the new master");
  // Followed through the +switch-master subscription (not only by a dropped connection).
  wait_for([&] { return app_->stderr_text().find("the sentinels switched the master") != std::string::npos; },
           "the app to hear +switch-master");
  // The old master is a replica now: writes that reach it are refused; the app has moved on.
  wait_for([&] { return count(cli(master_->port(), {"ROLE"}), "slave") == 1; }, "the old master to be a replica");
  const int before = l.successes_after_event;
  std::this_thread::sleep_for(500ms);
  l.finish();
  // Sentinel does not pause writes on the old master while it promotes a replica: what the old
  // master acknowledged in that moment can be lost. Measured and reported, not asserted.
  std::printf("planned failover: 503s for %.0f ms, %d failed requests, %d acknowledged increments lost\n",
              l.window_ms(), l.failures.load(), l.lost.load());
  RecordProperty("acknowledged_lost", std::to_string(l.lost.load()));
  EXPECT_GT(l.successes_after_event, before) << "no service after the old master became a replica";
}

TEST_F(redis_sentinel_setup, with_every_sentinel_down_the_app_keeps_its_master_then_answers_503) {
  const auto port = start_app();
  cookie_jar jar;
  jar.store(get(port, "/redis-store-counter"));
  sentinels_.clear();  // all of them
  EXPECT_EQ(get(port, "/redis-store-counter", jar.headers()).body, "count is 2");
  master_->kill();
  // 503 answers, not hangs (the client would give up after 10 s and the test fail).
  for (int i = 0; i < 3; ++i) {
    const response r = get(port, "/redis-store-counter", jar.headers(), 10s);
    EXPECT_EQ(r.status, 503u) << describe(r);
  }
  EXPECT_TRUE(app_->running());
}

#ifdef SESSIONKIT_SESSIONCTL_PATH
// sessionctl takes the sentinel URL as the example does: it finds the master and counts there.
TEST_F(redis_sentinel_setup, sessionctl_finds_the_master_through_the_sentinels) {
  const auto port = start_app();
  const auto count_sessions = [&] {
    child_process tool(SESSIONKIT_SESSIONCTL_PATH, {"--store", sentinel_url(), "count"});
    const exit_status status = tool.wait(30s);
    EXPECT_TRUE(status.success()) << status << tool.stderr_text();
    return std::stol("0" + tool.stdout_text());
  };
  const long before = count_sessions();
  for (int i = 0; i < 3; ++i) (void)get(port, "/redis-store-counter");  // three new sessions
  EXPECT_EQ(count_sessions(), before + 3);
}
#endif

// The same through TLS (rediss-sentinel://): the sentinels and the master are reached over TLS,
// with the CA given by --redis-tls-ca; the +switch-master subscription too.
class redis_sentinel_tls : public redis_sentinel_setup {
 protected:
  static void SetUpTestSuite() {
    certs_ = std::filesystem::temp_directory_path() / ("sessionkit-sentinel-tls-" + std::to_string(::getpid()));
    child_process make(find_program("bash"), {SESSIONKIT_TLS_CERTS_SCRIPT, certs_.string()});
    ASSERT_TRUE(make.wait(60s).success()) << make.stderr_text();
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(certs_); }
  void SetUp() override {
    tls_.dir = certs_;
    redis_sentinel_setup::SetUp();
  }
  static inline std::filesystem::path certs_;
};

TEST_F(redis_sentinel_tls, counts_and_follows_a_planned_failover_through_tls) {
  const auto port = start_app({"--redis-tls-ca", tls_.file("ca.crt")});
  cookie_jar jar;
  for (int i = 1; i <= 3; ++i) {
    const response r = get(port, "/redis-store-counter", jar.headers());
    ASSERT_EQ(r.body, "count is " + std::to_string(i)) << describe(r);
    jar.store(r);
  }
  const std::string answer = cli(sentinels_[0]->port(), {"SENTINEL", "FAILOVER", "mymaster"});
  EXPECT_NE(answer.find("OK"), std::string::npos) << answer;
  wait_for([&] {
    return cli(sentinels_[0]->port(), {"SENTINEL", "get-master-addr-by-name", "mymaster"})
               .find(std::to_string(master_tls_port_)) == std::string::npos;
  }, "the sentinels to switch the master");
  // Heard through the TLS subscription, and served by the new master.
  EXPECT_TRUE(app_->wait_for_stderr("the sentinels switched the master", 10s)) << app_->stderr_text();
  long last = 3;
  wait_for([&] {
    const response r = get(port, "/redis-store-counter", jar.headers());
    if (r.status != 200) return false;
    jar.store(r);
    last = std::stol(r.body.substr(r.body.rfind(' ') + 1));
    return true;
  }, "service on the new master");
  EXPECT_GE(last, 4);
}

TEST_F(redis_sentinel_tls, sentinels_with_a_certificate_of_another_ca_are_a_503_with_the_cause) {
  std::vector<std::string> args{"--port", "0", "--store", sentinel_url(), "--redis-tls-ca",
                                tls_.file("other-ca.crt"), "--redis-connect-timeout", "1000"};
  app_ = std::make_unique<child_process>(SESSIONKIT_EXAMPLE_PATH, args);
  const auto port = app_->wait_for_listening().port;
  for (int i = 0; i < 3; ++i) {
    const response r = get(port, "/redis-store-counter", {}, 5s);
    EXPECT_EQ(r.status, 503u) << describe(r);
  }
  EXPECT_TRUE(app_->wait_for_stderr("TLS handshake with sentinel")) << app_->stderr_text();
  EXPECT_TRUE(app_->wait_for_stderr("certificate")) << app_->stderr_text();
  EXPECT_TRUE(app_->running());
}

}  // namespace
}  // namespace sessionkit::test
