#pragma once
// A Redis Cluster of the test's own on loopback: `masters` redis-servers with
// --cluster-enabled yes, each with `replicas_per_master` replicas, joined by
// `redis-cli --cluster create`. Slots without a master do not stop the others
// (cluster-require-full-coverage no), and a node is failed after 1 s.

#include "support/redis_server.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sessionkit::test {

/// One line of CLUSTER NODES.
struct cluster_node {
  std::string id;
  std::uint16_t port = 0;
  bool master = false;
  bool failed = false;
  std::string master_id;  // a replica's master
  int slots = 0;          // how many slots it serves
};

struct redis_cluster_options {
  int masters = 3;
  int replicas_per_master = 1;
  /// More arguments for each node (called once per node: TLS ports differ).
  std::function<std::vector<std::string>()> node_args;
  /// --requirepass and --masterauth on every node; the helpers log in with it.
  std::string password;
};

class redis_cluster {
 public:
  explicit redis_cluster(int masters = 3, int replicas_per_master = 1);
  explicit redis_cluster(const redis_cluster_options& options);
  redis_cluster(const redis_cluster&) = delete;
  redis_cluster& operator=(const redis_cluster&) = delete;

  /// The node servers (those the cluster was made with, masters first as created).
  std::vector<std::unique_ptr<redis_server>>& nodes() { return nodes_; }
  /// `redis-cluster://127.0.0.1:P,...` with the first `seeds` nodes as seeds.
  std::string url(std::size_t seeds = 1) const;
  /// The cluster as a live node sees it.
  std::vector<cluster_node> topology() const;
  /// The node server that is master of `key`'s slot now (nullptr: none).
  redis_server* master_of(const std::string& key) const;
  /// The keys matching `pattern` on every master.
  std::vector<std::string> keys(const std::string& pattern) const;
  /// Waits until every live node says cluster_state:ok and sees `masters` masters with a slot.
  void wait_until_healthy(int masters) const;
  /// redis-cli --cluster ARGS... against a live node; its output (throws when it fails).
  std::string cli_cluster(std::vector<std::string> args) const;

 private:
  const redis_server& live_node() const;
  redis_server* by_port(std::uint16_t port) const;

  std::vector<std::unique_ptr<redis_server>> nodes_;
  std::string password_;
};

/// The arguments that make a redis-server a cluster node for these tests.
std::vector<std::string> cluster_node_args();

}  // namespace sessionkit::test
