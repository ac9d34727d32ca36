#include "support/redis_cluster.hpp"

#include <chrono>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sessionkit::test {

using namespace std::chrono_literals;

std::vector<std::string> cluster_node_args() {
  // The bus port given (by default it is the port + 10000, too high for a free port above 55535).
  return {"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
          "--cluster-port", std::to_string(free_port()), "--cluster-require-full-coverage", "no",
          "--repl-diskless-sync-delay", "0"};
}

redis_cluster::redis_cluster(int masters, int replicas_per_master)
    : redis_cluster(redis_cluster_options{masters, replicas_per_master, {}, {}}) {}

redis_cluster::redis_cluster(const redis_cluster_options& o) : password_(o.password) {
  const int masters = o.masters;
  const int total = masters * (1 + o.replicas_per_master);
  for (int i = 0; i < total; ++i) {
    std::vector<std::string> args = cluster_node_args();
    if (o.node_args) {
      const auto more = o.node_args();
      args.insert(args.end(), more.begin(), more.end());
    }
    if (!o.password.empty()) args.insert(args.end(), {"--requirepass", o.password, "--masterauth", o.password});
    nodes_.push_back(std::make_unique<redis_server>(false, args));
    nodes_.back()->set_password(o.password);
  }
  std::vector<std::string> args{"--cluster", "create"};
  if (!o.password.empty()) args.insert(args.begin(), {"-a", o.password, "--no-auth-warning"});
  for (const auto& n : nodes_) args.push_back("127.0.0.1:" + std::to_string(n->port()));
  args.insert(args.end(), {"--cluster-replicas", std::to_string(o.replicas_per_master), "--cluster-yes"});
  child_process create(find_program("redis-cli"), args);
  const exit_status status = create.wait(60s);
  if (!status.success()) throw std::runtime_error("redis-cli --cluster create failed: " + create.stdout_text() + create.stderr_text());
  wait_until_healthy(masters);
}

std::string redis_cluster::url(std::size_t seeds) const {
  std::string out = "redis-cluster://";
  for (std::size_t i = 0; i < seeds && i < nodes_.size(); ++i)
    out += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(nodes_[i]->port());
  return out;
}

const redis_server& redis_cluster::live_node() const {
  for (const auto& n : nodes_)
    if (n->running()) return *n;
  throw std::runtime_error("no cluster node is running");
}

redis_server* redis_cluster::by_port(std::uint16_t port) const {
  for (const auto& n : nodes_)
    if (n->port() == port) return n.get();
  return nullptr;
}

std::vector<cluster_node> redis_cluster::topology() const {
  // <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot> <slot>...
  std::vector<cluster_node> out;
  std::istringstream lines(live_node().command({"CLUSTER", "NODES"}).text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    cluster_node n;
    std::string address, flags, ignored;
    words >> n.id >> address >> flags >> n.master_id >> ignored >> ignored >> ignored >> ignored;
    if (n.id.empty()) continue;
    const std::size_t colon = address.rfind(':'), at = address.find('@');
    n.port = static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1, at - colon - 1)));
    n.master = flags.find("master") != std::string::npos;
    n.failed = flags.find("fail") != std::string::npos && flags.find("fail?") == std::string::npos;
    std::string range;
    while (words >> range) {
      if (range.front() == '[') continue;  // a slot being migrated
      const std::size_t dash = range.find('-');
      n.slots += dash == std::string::npos ? 1 : std::stoi(range.substr(dash + 1)) - std::stoi(range.substr(0, dash)) + 1;
    }
    out.push_back(n);
  }
  return out;
}

redis_server* redis_cluster::master_of(const std::string& key) const {
  const long long slot = live_node().command({"CLUSTER", "KEYSLOT", key}).integer;
  for (const redis_value& range : live_node().command({"CLUSTER", "SLOTS"}).elements)
    if (range.elements.size() >= 3 && range.elements[0].integer <= slot && slot <= range.elements[1].integer)
      return by_port(static_cast<std::uint16_t>(range.elements[2].elements[1].integer));
  return nullptr;
}

std::vector<std::string> redis_cluster::keys(const std::string& pattern) const {
  std::vector<std::string> out;
  for (const auto& n : topology()) {
    const redis_server* server = by_port(n.port);
    if (!n.master || n.failed || !server || !server->running()) continue;
    for (auto& k : server->keys(pattern)) out.push_back(std::move(k));
  }
  return out;
}

void redis_cluster::wait_until_healthy(int masters) const {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    bool ok = true;
    try {
      for (const auto& n : nodes_)
        if (n->running() && n->command({"CLUSTER", "INFO"}).text.find("cluster_state:ok") == std::string::npos) ok = false;
      int serving = 0;
      for (const auto& n : topology())
        if (n.master && !n.failed && n.slots > 0) ++serving;
      ok = ok && serving == masters;
    } catch (const std::exception&) {
      ok = false;
    }
    if (ok) return;
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the cluster did not become healthy");
    std::this_thread::sleep_for(100ms);
  }
}

std::string redis_cluster::cli_cluster(std::vector<std::string> args) const {
  std::vector<std::string> all{"--cluster"};
  all.insert(all.end(), args.begin(), args.end());
  // The node to talk to goes right after the subcommand.
  all.insert(all.begin() + 2, "127.0.0.1:" + std::to_string(live_node().port()));
  if (!password_.empty()) all.insert(all.begin(), {"-a", password_, "--no-auth-warning"});
  child_process p(find_program("redis-cli"), all);
  const exit_status status = p.wait(120s);
  if (!status.success()) throw std::runtime_error("redis-cli --cluster failed: " + p.stdout_text() + p.stderr_text());
  return p.stdout_text();
}

}  // namespace sessionkit::test
