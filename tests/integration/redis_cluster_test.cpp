// RedisStore on a real Redis Cluster (redis-cluster://) started on loopback: three masters with a
// replica each. Sessions spread over every master and count right on two app servers; length,
// ids and clear walk every master (through sessionctl). A master killed with SIGKILL under load
// is followed without a restart (sessions on the other masters keep working; with
// --redis-wait-replicas 1 nothing acknowledged is lost, and writes resume once the promoted
// master has a replica again: the old master, restarted); resharding a master's slots under load
// (redis-cli --cluster reshard) fails no request. Bad seeds, a node not in cluster mode and
// uncovered slots give 503s and a clear log line, and the app recovers when they are fixed.

#include "counter_load.hpp"
#include "example_binaries.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_cluster.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <functional>
#include <map>
#include <memory>
#include <thread>

namespace sessionkit::test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

void wait_for(const std::function<bool()>& ready, const char* what, std::chrono::seconds limit = 30s) {
  const auto deadline = clock_type::now() + limit;
  while (!ready()) {
    ASSERT_LT(clock_type::now(), deadline) << "timed out waiting for " << what;
    std::this_thread::sleep_for(100ms);
  }
}

long count_of(const response& r) { return std::stol(r.body.substr(r.body.rfind(' ') + 1)); }

class redis_cluster_apps : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure())
      for (const auto& a : apps_) std::printf("app stderr:\n%s\n", a->stderr_text().c_str());
    apps_.clear();
  }

  // An app server on `url`; waits until it serves the store when `wait_ready`.
  std::uint16_t start_app(const std::string& url, std::vector<std::string> more = {}, bool wait_ready = true,
                          const std::string& binary = SESSIONKIT_EXAMPLE_PATH) {
    std::vector<std::string> args{"--port", "0", "--store", url, "--redis-command-timeout", "1000",
                                  "--redis-connect-timeout", "1000"};
    args.insert(args.end(), more.begin(), more.end());
    apps_.push_back(std::make_unique<child_process>(binary, args));
    const auto port = apps_.back()->wait_for_listening().port;
    if (wait_ready) wait_for([&] { return get(port, "/session-read").status == 200; }, "the app to reach the cluster");
    return port;
  }

  std::vector<std::unique_ptr<child_process>> apps_;
};

class redis_cluster_setup : public redis_cluster_apps {
 protected:
  void SetUp() override { cluster_ = std::make_unique<redis_cluster>(3, 1); }

  // `n` new sessions, made alternately on `ports`, each with count 1.
  std::vector<cookie_jar> new_sessions(const std::vector<std::uint16_t>& ports, int n) {
    std::vector<cookie_jar> jars(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      const response r = get(ports[std::size_t(i) % ports.size()], "/redis-store-counter");
      EXPECT_EQ(r.body, "count is 1") << describe(r);
      jars[std::size_t(i)].store(r);
    }
    return jars;
  }

  std::unique_ptr<redis_cluster> cluster_;
};

TEST_F(redis_cluster_setup, sessions_spread_over_every_master_and_count_right_on_two_app_servers) {
  // Different seeds: each app finds the whole cluster through any node.
  const std::vector<std::uint16_t> ports{start_app(cluster_->url(1)),
                                         start_app("redis-cluster://127.0.0.1:" +
                                                   std::to_string(cluster_->nodes()[4]->port()) + ",127.0.0.1:" +
                                                   std::to_string(cluster_->nodes()[5]->port()))};
  const std::size_t before = cluster_->keys("sess:*").size();  // the apps' start-up checks
  constexpr int sessions = 300;
  auto jars = new_sessions(ports, sessions);
  // Every session counts on, alternating between the servers.
  for (int round = 2; round <= 3; ++round)
    for (int i = 0; i < sessions; i += 3) {
      const response r = get(ports[std::size_t(i + round) % 2], "/redis-store-counter", jars[std::size_t(i)].headers());
      ASSERT_EQ(r.body, "count is " + std::to_string(round)) << describe(r);
    }
  // Spread over all three masters, keys as connect-redis names them (no hash tags).
  std::map<std::uint16_t, int> per_master;
  for (const auto& jar : jars) {
    const std::string key = "sess:" + jar.session_id();
    redis_server* master = cluster_->master_of(key);
    ASSERT_NE(master, nullptr);
    ASSERT_TRUE(master->get(key).has_value()) << key;
    ++per_master[master->port()];
  }
  EXPECT_EQ(per_master.size(), 3u);
  for (const auto& [port, n] : per_master) EXPECT_GT(n, 50) << "master " << port;
  EXPECT_EQ(cluster_->keys("sess:*").size(), before + sessions);
#ifdef SESSIONKIT_SESSIONCTL_PATH
  // length, ids (list) and clear walk every master.
  const auto tool = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--store", cluster_->url(2)});
    child_process p(SESSIONKIT_SESSIONCTL_PATH, args);
    const exit_status status = p.wait(60s);
    EXPECT_TRUE(status.success()) << status << p.stderr_text();
    return p.stdout_text();
  };
  EXPECT_EQ(tool({"count"}), std::to_string(before + sessions) + "\n");
  const std::string list = tool({"list", "--json"});
  for (const auto& jar : jars) EXPECT_NE(list.find(jar.session_id()), std::string::npos);
  EXPECT_NE(tool({"clear", "--yes"}).find(std::to_string(before + sessions)), std::string::npos);
  EXPECT_TRUE(cluster_->keys("sess:*").empty());
  EXPECT_EQ(tool({"count"}), "0\n");
#endif
}

class redis_cluster_failover : public redis_cluster_setup, public ::testing::WithParamInterface<bool> {};

TEST_P(redis_cluster_failover, a_killed_master_is_followed_and_the_other_masters_keep_serving) {
  std::vector<std::string> args;
  if (GetParam()) args = {"--redis-wait-replicas", "1", "--redis-wait-timeout", "500"};
  const std::vector<std::uint16_t> ports{start_app(cluster_->url(), args), start_app(cluster_->url(2), args)};
  // A third app takes no load and asks for the slot map only hourly: it must follow the
  // failover all the same (its connection to the killed master dropped), not 503 the killed
  // master's sessions until a request of its own failed there.
  const std::uint16_t idle_port = start_app(cluster_->url() + "?refresh_ms=3600000", args);
  constexpr int clients = 9;
  counter_load l;
  l.jars = new_sessions(ports, clients);
  // The master with the most of the clients' sessions is killed.
  std::map<redis_server*, std::vector<int>> by_master;
  for (int c = 0; c < clients; ++c) by_master[cluster_->master_of("sess:" + l.jars[std::size_t(c)].session_id())].push_back(c);
  auto victim = std::max_element(by_master.begin(), by_master.end(),
                                 [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); });
  redis_server* killed = victim->first;
  const std::vector<int> on_killed = victim->second;
  l.run(ports, clients);
  std::this_thread::sleep_for(1s);
  const auto killed_at = clock_type::now();
  killed->kill();
  l.event = true;
  if (GetParam()) {
    // The promoted replica has no replica of its own, so no write can be acknowledged as
    // replicated (503s, nothing acknowledged) until the old master comes back as its replica.
    const std::string key = "sess:" + l.jars[std::size_t(on_killed.front())].session_id();
    wait_for([&] {
      const redis_server* m = cluster_->master_of(key);
      return m && m != killed;
    }, "the replica to be promoted");
    killed->start();
  }
  // Service resumes for the sessions of the dead master once its replica is promoted.
  wait_for([&] {
    return std::all_of(on_killed.begin(), on_killed.end(), [&](int c) { return l.client_successes_after_event[std::size_t(c)] > 5; });
  }, "service after the failover for the sessions of the killed master", 30s);
  std::this_thread::sleep_for(1s);
  l.finish();
  const double recovery = std::chrono::duration<double, std::milli>(clock_type::now() - killed_at).count();
  std::printf("cluster failover (SIGKILL of a master with %zu of %d clients' sessions, wait-replicas %s): 503s for "
              "%.0f ms, %d failed requests, recovered within %.0f ms, %d acknowledged increments lost\n",
              on_killed.size(), clients, GetParam() ? "1" : "off", l.window_ms(), l.failures.load(), recovery,
              l.lost.load());
  RecordProperty("error_window_ms", std::to_string(l.window_ms()));
  // Sessions on the other masters never failed.
  for (int c = 0; c < clients; ++c) {
    if (std::find(on_killed.begin(), on_killed.end(), c) == on_killed.end()) {
      EXPECT_EQ(l.client_failures[std::size_t(c)], 0) << "client " << c << " (its master was not killed)";
    }
  }
  // Every client's session goes on, on the promoted replica.
  for (int c = 0; c < clients; ++c) {
    const response r = get(ports[0], "/redis-store-counter", l.jars[std::size_t(c)].headers());
    ASSERT_EQ(r.status, 200u) << describe(r);
    // With wait-replicas, at least one more than acknowledged (a failed request may have
    // been written all the same); without, what the dead master had not passed on is gone.
    if (GetParam()) {
      EXPECT_GE(count_of(r), l.last_acknowledged[std::size_t(c)] + 1) << "client " << c;
    }
  }
  if (GetParam()) {
    EXPECT_EQ(l.lost.load(), 0) << "acknowledged increments lost";
  }
  for (const int c : on_killed) {
    const response r = get(idle_port, "/redis-store-counter", l.jars[std::size_t(c)].headers());
    EXPECT_EQ(r.status, 200u) << "the idle app, client " << c << ": " << describe(r);
  }
  for (const auto& a : apps_) EXPECT_TRUE(a->running());
  EXPECT_NE(cluster_->master_of("sess:" + l.jars[std::size_t(on_killed.front())].session_id()), killed);
}

INSTANTIATE_TEST_SUITE_P(wait_replicas, redis_cluster_failover, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "wait_1" : "no_wait"; });

TEST_F(redis_cluster_setup, resharding_a_master_under_load_fails_no_request) {
  const std::vector<std::uint16_t> ports{start_app(cluster_->url()), start_app(cluster_->url(2))};
  constexpr int clients = 6;
  counter_load l;
  l.jars = new_sessions(ports, clients);
  auto idle = new_sessions(ports, 200);
  // All slots of the master with the first client's session move to another master.
  redis_server* source = cluster_->master_of("sess:" + l.jars[0].session_id());
  ASSERT_NE(source, nullptr);
  std::string source_id, target_id;
  int source_slots = 0;
  for (const auto& n : cluster_->topology()) {
    if (!n.master || n.slots == 0) continue;
    if (n.port == source->port()) {
      source_id = n.id;
      source_slots = n.slots;
    } else if (target_id.empty()) {
      target_id = n.id;
    }
  }
  ASSERT_FALSE(source_id.empty());
  ASSERT_FALSE(target_id.empty());
  const auto keys_before = source->command({"DBSIZE"}).integer;
  ASSERT_GT(keys_before, 0);
#ifdef SESSIONKIT_SESSIONCTL_PATH
  // A walk in pages (sessionctl count) while slots move: no session missed or counted twice.
  const auto count_sessions = [&] {
    child_process tool(SESSIONKIT_SESSIONCTL_PATH, {"--store", cluster_->url(), "count"});
    const exit_status status = tool.wait(60s);
    EXPECT_TRUE(status.success()) << status << tool.stderr_text();
    return tool.stdout_text();
  };
  const std::string stable = count_sessions();
  std::atomic<bool> resharding{true};
  std::vector<std::string> counts;
  std::thread counter([&] {
    while (resharding) counts.push_back(count_sessions());
  });
#endif
  l.run(ports, clients);
  std::this_thread::sleep_for(500ms);
  const auto started = clock_type::now();
  cluster_->cli_cluster({"reshard", "--cluster-from", source_id, "--cluster-to", target_id, "--cluster-slots",
                         std::to_string(source_slots), "--cluster-yes"});
  const double took = std::chrono::duration<double, std::milli>(clock_type::now() - started).count();
  std::this_thread::sleep_for(1s);
  l.finish();
#ifdef SESSIONKIT_SESSIONCTL_PATH
  resharding = false;
  counter.join();
  EXPECT_GT(counts.size(), 1u);
  for (const auto& c : counts) EXPECT_EQ(c, stable) << "a count while slots moved";
  std::printf("%zu sessionctl counts while resharding, each %s", counts.size(), stable.c_str());
#endif
  std::printf("resharding %d slots (%lld keys) under load took %.0f ms: %d failed requests, %d lost\n", source_slots,
              static_cast<long long>(keys_before), took, l.failures.load(), l.lost.load());
  EXPECT_EQ(l.failures.load(), 0);
  EXPECT_EQ(l.lost.load(), 0);
  // Every slot moved (the emptied master then becomes a replica of another: a DBSIZE there would
  // count the keys it replicates).
  for (const auto& n : cluster_->topology())
    if (n.port == source->port()) {
      EXPECT_EQ(n.slots, 0);
    }
  for (const auto& jar : l.jars) EXPECT_NE(cluster_->master_of("sess:" + jar.session_id()), source);
  // The sessions that sat still moved too, and go on where they were.
  for (std::size_t i = 0; i < idle.size(); ++i) {
    const response r = get(ports[i % 2], "/redis-store-counter", idle[i].headers());
    ASSERT_EQ(r.body, "count is 2") << describe(r);
  }
}

// Every adapter's example takes the URL as the Beast one does: one session counts on across
// all of them, on the cluster.
TEST_F(redis_cluster_setup, every_framework_counts_on_the_cluster) {
  std::vector<std::uint16_t> ports;
  for (const auto& binary : example_binaries()) ports.push_back(start_app(cluster_->url(), {}, true, binary.path));
  for (int s = 0; s < 6; ++s) {
    cookie_jar jar;
    for (int n = 1; n <= 2 * int(ports.size()); ++n) {
      const response r = get(ports[std::size_t(n + s) % ports.size()], "/redis-store-counter", jar.headers());
      ASSERT_EQ(r.body, "count is " + std::to_string(n)) << describe(r);
      jar.store(r);
    }
  }
}

// --- bad input ------------------------------------------------------------------------------------

TEST_F(redis_cluster_apps, no_reachable_seed_then_uncovered_slots_are_503s_and_recovery_follows_the_fix) {
  // Nothing listens there until the node starts below: a port no one else is handed meanwhile.
  const std::uint16_t seed = free_port_for_later();
  const auto port = start_app("redis-cluster://127.0.0.1:" + std::to_string(seed), {}, false);
  for (int i = 0; i < 3; ++i) {
    const response r = get(port, "/redis-store-counter", {}, 5s);
    EXPECT_EQ(r.status, 503u) << describe(r);
  }
  EXPECT_TRUE(apps_.back()->wait_for_stderr("no node gave the slot map")) << apps_.back()->stderr_text();
  // A one-node cluster appears on the seed's port, serving half of the slots.
  redis_server node(false, cluster_node_args(), seed);
  ASSERT_FALSE(node.command({"CLUSTER", "ADDSLOTSRANGE", "0", "8191"}).error);
  // Sessions in the served slots work; the others get 503 (never a hang).
  int served = 0, refused = 0;
  wait_for([&] {
    const response r = get(port, "/redis-store-counter", {}, 5s);
    if (r.status == 200) ++served;
    else if (r.status == 503) ++refused;
    return served > 3 && refused > 3;
  }, "sessions in the served slots to work and the others to get 503");
  EXPECT_TRUE(apps_.back()->wait_for_stderr("slots have no master")) << apps_.back()->stderr_text();
  // The rest of the slots get a master: every new session works.
  ASSERT_FALSE(node.command({"CLUSTER", "ADDSLOTSRANGE", "8192", "16383"}).error);
  wait_for([&] {
    for (int i = 0; i < 20; ++i)
      if (get(port, "/redis-store-counter", {}, 5s).status != 200) return false;
    return true;
  }, "every slot to be served");
  EXPECT_TRUE(apps_.back()->running());
}

TEST_F(redis_cluster_apps, a_node_not_in_cluster_mode_is_a_503_with_the_cause_until_it_is_one) {
  auto plain = std::make_unique<redis_server>();
  const std::uint16_t node_port = plain->port();
  const auto port = start_app("redis-cluster://127.0.0.1:" + std::to_string(node_port), {}, false);
  for (int i = 0; i < 3; ++i) {
    const response r = get(port, "/redis-store-counter", {}, 5s);
    EXPECT_EQ(r.status, 503u) << describe(r);
  }
  EXPECT_TRUE(apps_.back()->wait_for_stderr("cluster support disabled")) << apps_.back()->stderr_text();
  EXPECT_TRUE(apps_.back()->running());
  // Fixed: the same address is a cluster node now, with every slot.
  plain.reset();
  redis_server node(false, cluster_node_args(), node_port);
  ASSERT_FALSE(node.command({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}).error);
  wait_for([&] { return get(port, "/redis-store-counter", {}, 5s).status == 200; }, "service on the cluster node");
}

}  // namespace
}  // namespace sessionkit::test

namespace sessionkit::test {
namespace {

// rediss-cluster:// with a password: every node speaks TLS to clients and to each other
// (tls-cluster, tls-replication) and wants AUTH; the app verifies each node's certificate
// against the CA given by --redis-tls-ca.
class redis_cluster_tls : public redis_cluster_apps {
 protected:
  static void SetUpTestSuite() {
    certs_ = std::filesystem::temp_directory_path() / ("sessionkit-cluster-tls-" + std::to_string(::getpid()));
    child_process make(find_program("bash"), {SESSIONKIT_TLS_CERTS_SCRIPT, certs_.string()});
    ASSERT_TRUE(make.wait(60s).success()) << make.stderr_text();
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(certs_); }
  void SetUp() override {
    redis_cluster_options o;
    o.replicas_per_master = 0;
    o.password = "cluster-secret";
    o.node_args = [this] {
      tls_ports_.push_back(free_port());
      return std::vector<std::string>{"--tls-port", std::to_string(tls_ports_.back()), "--tls-cert-file", file("server.crt"),
                                      "--tls-key-file", file("server.key"), "--tls-ca-cert-file", file("ca.crt"),
                                      "--tls-auth-clients", "no", "--tls-cluster", "yes", "--tls-replication", "yes"};
    };
    cluster_ = std::make_unique<redis_cluster>(o);
  }
  static std::string file(const char* name) { return (certs_ / name).string(); }
  std::string url(const std::string& password = "cluster-secret") const {
    return "rediss-cluster://:" + password + "@127.0.0.1:" + std::to_string(tls_ports_.front());
  }

  static inline std::filesystem::path certs_;
  std::vector<std::uint16_t> tls_ports_;
  std::unique_ptr<redis_cluster> cluster_;
};

TEST_F(redis_cluster_tls, counts_on_every_master_through_tls_with_a_password) {
  const auto port = start_app(url(), {"--redis-tls-ca", file("ca.crt")});
  std::set<std::uint16_t> masters;
  for (int i = 0; i < 30; ++i) {
    cookie_jar jar;
    for (int n = 1; n <= 2; ++n) {
      const response r = get(port, "/redis-store-counter", jar.headers());
      ASSERT_EQ(r.body, "count is " + std::to_string(n)) << describe(r);
      jar.store(r);
    }
    redis_server* master = cluster_->master_of("sess:" + jar.session_id());
    ASSERT_NE(master, nullptr);
    masters.insert(master->port());
  }
  EXPECT_EQ(masters.size(), 3u) << "sessions on every master, each reached through TLS";
  EXPECT_EQ(apps_.back()->stderr_text().find("503"), std::string::npos);
}

TEST_F(redis_cluster_tls, another_ca_or_a_wrong_password_is_a_503_with_the_cause) {
  const auto other_ca = start_app(url(), {"--redis-tls-ca", file("other-ca.crt")}, false);
  const auto wrong_password = start_app(url("not-the-password"), {"--redis-tls-ca", file("ca.crt")}, false);
  for (const auto port : {other_ca, wrong_password}) {
    for (int i = 0; i < 2; ++i) {
      const response r = get(port, "/redis-store-counter", {}, 5s);
      EXPECT_EQ(r.status, 503u) << describe(r);
    }
  }
  EXPECT_TRUE(apps_[0]->wait_for_stderr("certificate")) << apps_[0]->stderr_text();
  EXPECT_TRUE(apps_[1]->wait_for_stderr("AUTH failed")) << apps_[1]->stderr_text();
  for (const auto& a : apps_) EXPECT_TRUE(a->running());
  // Neither message carries the password.
  for (const auto& a : apps_) EXPECT_EQ(a->stderr_text().find("not-the-password"), std::string::npos);
}

}  // namespace
}  // namespace sessionkit::test
