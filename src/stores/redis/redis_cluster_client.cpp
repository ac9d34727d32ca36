// A Redis Cluster client: the slot map asked of the cluster (CLUSTER SLOTS), one connection per
// master (each batching its commands as a single Redis's does), every command routed by its
// key's hash slot. MOVED sends the command to the node named and refreshes the map; ASK sends
// it there once behind ASKING; TRYAGAIN (a multi-key command while its keys are split by a slot
// migration) tries again shortly. A node that goes away, a slot without a master or a MOVED
// refresh the map at once; otherwise it is refreshed every `refresh_interval`.

#include "redis_client.hpp"
#include "redis_hash_slot.hpp"
#include "redis_slot_map.hpp"

#include <sessionkit/error.hpp>
#include <sessionkit/log.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>

namespace sessionkit::detail {
namespace {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

class redis_cluster_client final : public redis_client, public std::enable_shared_from_this<redis_cluster_client> {
 public:
  redis_cluster_client(asio::any_io_executor executor, redis_connection::settings settings)
      : executor_(std::move(executor)),
        strand_(asio::make_strand(executor_)),
        settings_(std::move(settings)),
        refresh_timer_(strand_),
        map_(std::make_shared<slot_map>()),
        backoff_(settings_.reconnect_min_delay) {
    settings_.wait_for_first_connection = true;
    for (const auto& [host, port] : settings_.endpoint.cluster.seeds) seeds_.push_back(node_name(host, port));
    // Fails here (bad TLS files), not on the first command: a connection made and never
    // started loads them.
    if (settings_.endpoint.tls.enabled) (void)std::make_shared<redis_connection>(executor_, settings_);
  }

  void start() override {
    asio::post(strand_, [self = shared_from_this()] { self->refresh(); });
  }

  void stop() override {
    asio::post(strand_, [self = shared_from_this()] {
      self->refresh_timer_.cancel();
      std::lock_guard lock(self->mutex_);
      self->stopped_ = true;
      for (auto& [name, link] : self->connections_) link->stop();
    });
  }

  void execute(std::string_view key, std::string wire, std::size_t replies, reply_handler handler) override {
    auto r = make_routed(key, std::move(wire), std::move(handler));
    r->replies = replies;
    send(std::move(r));
  }

  void execute_with_wait(std::string_view key, std::string wire, unsigned replicas, std::chrono::milliseconds timeout,
                         reply_handler handler) override {
    auto r = make_routed(key, std::move(wire), std::move(handler));
    r->wait_replicas = replicas;
    r->wait_timeout = timeout;
    send(std::move(r));
  }

  void execute_on(const std::string& holder, std::string wire, std::size_t replies, reply_handler handler) override {
    std::shared_ptr<redis_connection> link;
    {
      std::lock_guard lock(mutex_);
      if (!stopped_) link = connection_to(holder);
    }
    if (!link) return post([h = std::move(handler)]() mutable { h(error::shut_down, {}); });
    link->execute_pipeline(std::move(wire), replies, [self = shared_from_this(), h = std::move(handler)](
                                                    std::error_code ec, redis_reply r) mutable {
      if (ec) self->request_refresh();
      h(ec, std::move(r));
    });
  }

  std::string holder_of(unsigned slot) override {
    std::lock_guard lock(mutex_);
    const std::int16_t owner = map_->owner[slot % redis_cluster_slots];
    return owner < 0 ? std::string() : map_->masters[std::size_t(owner)];
  }

  void refresh_soon() override { request_refresh(); }

  bool is_cluster() const noexcept override { return true; }

  void post(unique_function<void()> fn) override {
    asio::post(strand_, [f = std::move(fn)]() mutable { f(); });
  }

  void post_after(std::chrono::milliseconds delay, unique_function<void()> fn) override {
    auto timer = std::make_shared<asio::steady_timer>(strand_, delay);
    timer->async_wait([timer, f = std::move(fn)](boost::system::error_code) mutable { f(); });
  }

  // Some master answers: requests go ahead (a session whose slot has no master answering gets
  // its 503 when its command fails, the others are served).
  bool ready() const noexcept override {
    std::lock_guard lock(mutex_);
    return std::any_of(map_->links.begin(), map_->links.end(), [](const auto& l) { return l->ready(); });
  }

  std::uint64_t writes() const noexcept override {
    std::lock_guard lock(mutex_);
    std::uint64_t n = 0;
    for (const auto& [name, link] : connections_) n += link->writes();
    return n;
  }

 private:
  // A command on its way: kept whole, so that a redirect can send it (or one command of a
  // pipeline) again.
  struct routed {
    unsigned slot = 0;
    std::string wire;
    std::size_t replies = 1;
    unsigned wait_replicas = 0;
    std::chrono::milliseconds wait_timeout{0};
    reply_handler handler;
    clock_type::time_point deadline;
    unsigned redirects = 0;
    std::string node;   // where it went last
    bool asking = false;  // the next send goes to `node` behind ASKING (an ASK redirect)
  };

  static constexpr unsigned max_redirects = 16;

  std::shared_ptr<routed> make_routed(std::string_view key, std::string wire, reply_handler handler) const {
    auto r = std::make_shared<routed>();
    r->slot = redis_hash_slot(key);
    r->wire = std::move(wire);
    r->handler = std::move(handler);
    r->deadline = clock_type::now() + settings_.command_timeout;
    return r;
  }

  // Sends `r` to the master of its slot (or, after ASK, to the node named).
  void send(std::shared_ptr<routed> r) {
    std::shared_ptr<redis_connection> link;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) {
        // none: completes with shut_down below
      } else if (!r->node.empty() && (r->asking || r->redirects > 0)) {
        link = connection_to(r->node);  // redirected there
      } else if (const std::int16_t owner = map_->owner[r->slot]; owner >= 0) {
        link = map_->links[std::size_t(owner)];
        r->node = map_->masters[std::size_t(owner)];
      }
    }
    if (!link) {
      std::error_code ec = stopped_ ? std::error_code(error::shut_down) : std::error_code(error::store_unavailable);
      if (!stopped_) {
        request_refresh();
        note_unserved(r->slot);
      }
      return post([r, ec] { r->handler(ec, {}); });
    }
    std::string wire = r->wire;
    std::size_t replies = r->replies;
    const bool asking = std::exchange(r->asking, false);
    if (asking) {
      wire = resp_command({"ASKING"}) + wire;
      ++replies;
    }
    const bool waits = r->wait_replicas > 0;
    auto on_reply = [self = shared_from_this(), r, asking, waits](std::error_code ec, redis_reply reply) {
      // ASKING's own reply goes; the command's stays (a write that waits gets only its own).
      if (asking && !ec && !waits && reply.type == redis_reply::kind::array && !reply.elements.empty()) {
        if (r->replies == 1) {
          redis_reply last = std::move(reply.elements.back());
          reply = std::move(last);
        } else {
          reply.elements.erase(reply.elements.begin());
        }
      }
      self->on_reply(r, ec, std::move(reply));
    };
    if (waits)
      link->execute_with_wait(std::move(wire), r->wait_replicas, r->wait_timeout, std::move(on_reply), replies);
    else
      link->execute_pipeline(std::move(wire), replies, std::move(on_reply));
  }

  void on_reply(const std::shared_ptr<routed>& r, std::error_code ec, redis_reply reply) {
    if (ec) {
      // The node went away or timed out: its slots may have a new master.
      if (ec != error::shut_down) request_refresh();
      return r->handler(ec, {});
    }
    if (r->replies == 1) {
      if (!needs_redirect(reply) || !may_redirect(*r, reply)) return finish(*r, std::move(reply));
      return follow(r, std::move(reply));
    }
    // A pipeline: each command that was redirected is sent on its own, in order, and its reply
    // takes its place; the commands that ran where they were sent stay done.
    fix_pipeline(r, std::make_shared<redis_reply>(std::move(reply)), 0);
  }

  void finish(routed& r, redis_reply reply) {
    if (is_error_starting(reply, "CLUSTERDOWN")) request_refresh();
    auto h = std::move(r.handler);
    h({}, std::move(reply));
  }

  // MOVED and ASK at most `max_redirects` times (a map that sends a command round in circles);
  // TRYAGAIN until the deadline (a migration takes what it takes).
  static bool may_redirect(const routed& r, const redis_reply& reply) {
    if (clock_type::now() >= r.deadline) return false;
    return is_error_starting(reply, "TRYAGAIN") || r.redirects < max_redirects;
  }

  // MOVED: to the node named, and the map asked for again; ASK: to the node named, once, behind
  // ASKING; TRYAGAIN: the same again shortly.
  void follow(const std::shared_ptr<routed>& r, redis_reply reply) {
    if (is_error_starting(reply, "TRYAGAIN")) {
      r->node.clear();
      post_after(std::chrono::milliseconds(10), [self = shared_from_this(), r] { self->send(r); });
      return;
    }
    const std::string target = redirect_target(reply.text, r->node);
    if (target.empty() || target.find(':') == std::string::npos) return finish(*r, std::move(reply));
    ++r->redirects;
    if (is_error_starting(reply, "MOVED ")) {
      request_refresh();
    } else {
      r->asking = true;
    }
    r->node = target;
    send(r);
  }

  void fix_pipeline(const std::shared_ptr<routed>& r, std::shared_ptr<redis_reply> replies, std::size_t from) {
    auto& elements = replies->elements;
    std::size_t i = from;
    while (i < elements.size() && !needs_redirect(elements[i])) ++i;
    if (i == elements.size() || !may_redirect(*r, elements[i])) return finish(*r, std::move(*replies));
    const std::vector<std::string_view> commands = split_resp_commands(r->wire);
    if (commands.size() != elements.size()) return finish(*r, std::move(*replies));
    auto one = std::make_shared<routed>();
    one->slot = r->slot;
    one->wire = std::string(commands[i]);
    one->deadline = r->deadline;
    one->redirects = r->redirects;
    one->node = r->node;
    one->handler = [self = shared_from_this(), r, replies, i](std::error_code ec, redis_reply reply) mutable {
      if (ec) return r->handler(ec, {});
      replies->elements[i] = std::move(reply);
      self->fix_pipeline(r, replies, i + 1);
    };
    follow(one, std::move(elements[i]));
  }

  // The connection to node "host:port", made when first needed. Under `mutex_`.
  std::shared_ptr<redis_connection> connection_to(const std::string& node) {
    auto& link = connections_[node];
    if (!link) {
      redis_connection::settings s = settings_;
      const std::size_t colon = node.rfind(':');
      s.endpoint.host = node.substr(0, colon);
      if (s.endpoint.host.size() > 2 && s.endpoint.host.front() == '[') s.endpoint.host = s.endpoint.host.substr(1, s.endpoint.host.size() - 2);
      unsigned port = 0;
      std::from_chars(node.data() + colon + 1, node.data() + node.size(), port);
      s.endpoint.port = static_cast<std::uint16_t>(port);
      s.endpoint.cluster = {};
      s.endpoint.sentinel = {};
      s.endpoint.database = 0;
      // A master that goes away may have failed over: the map is asked for at once, even when
      // no request of this server needed that master meanwhile.
      s.on_drop = [weak = weak_from_this()] {
        if (auto self = weak.lock()) self->request_refresh();
      };
      link = std::make_shared<redis_connection>(executor_, std::move(s));
      link->start();
    }
    retiring_.erase(node);
    return link;
  }

  void note_unserved(unsigned slot) {
    if (unserved_logged_.exchange(true)) return;
    log(log_level::warning, "Redis Cluster: slot " + std::to_string(slot) +
                                " has no master that answers now; its sessions get 503 until one does");
  }

  // --- the slot map ---------------------------------------------------------------------------

  // From any thread: a refresh soon (one at a time; requests meanwhile make one more after it).
  void request_refresh() {
    if (refresh_requested_.exchange(true)) return;
    asio::post(strand_, [self = shared_from_this()] {
      self->refresh_requested_ = false;
      if (self->refreshing_) {
        self->refresh_again_ = true;
        return;
      }
      // At most one refresh per 50 ms, however many commands ask for it.
      const auto next = self->last_refresh_ + std::chrono::milliseconds(50);
      if (clock_type::now() >= next) return self->refresh();
      self->schedule_refresh(std::chrono::duration_cast<std::chrono::milliseconds>(next - clock_type::now()));
    });
  }

  void schedule_refresh(std::chrono::milliseconds delay) {
    refresh_timer_.expires_after(delay);
    refresh_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->refresh();
    });
  }

  // On the strand: CLUSTER SLOTS to the masters known (those connected first), then the seeds.
  void refresh() {
    if (refreshing_) return;
    std::vector<std::string> candidates;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      for (std::size_t i = 0; i < map_->masters.size(); ++i)
        if (map_->links[i]->ready()) candidates.push_back(map_->masters[i]);
      for (const auto& m : map_->masters)
        if (std::find(candidates.begin(), candidates.end(), m) == candidates.end()) candidates.push_back(m);
      for (const auto& s : seeds_)
        if (std::find(candidates.begin(), candidates.end(), s) == candidates.end()) candidates.push_back(s);
    }
    refreshing_ = true;
    refresh_again_ = false;
    ask(std::make_shared<std::vector<std::string>>(std::move(candidates)), 0, std::make_shared<std::string>());
  }

  void ask(std::shared_ptr<std::vector<std::string>> candidates, std::size_t i, std::shared_ptr<std::string> why) {
    if (i == candidates->size()) return refresh_failed(*why);
    std::shared_ptr<redis_connection> link;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      link = connection_to((*candidates)[i]);
    }
    link->execute(std::vector<std::string>{"CLUSTER", "SLOTS"}, [self = shared_from_this(), candidates, i, why](
                                                                  std::error_code ec, redis_reply r) {
      asio::post(self->strand_, [self, candidates, i, why, ec, r = std::move(r)]() mutable {
        const std::string& node = (*candidates)[i];
        std::optional<slot_map> map;
        if (ec) *why = node + ": " + ec.message();
        else if (r.type == redis_reply::kind::error) *why = node + " refused CLUSTER SLOTS: " + r.text;
        else if (!(map = parse_cluster_slots(r, node))) *why = node + " sent an unreadable CLUSTER SLOTS reply";
        else if (map->masters.empty()) *why = node + " knows no slots (a cluster not set up yet?)";
        if (!map || map->masters.empty()) return self->ask(candidates, i + 1, why);
        self->apply(std::move(*map), node);
      });
    });
  }

  void refresh_failed(const std::string& why) {
    refreshing_ = false;
    last_refresh_ = clock_type::now();
    if (failures_++ % 50 == 0)
      log(log_level::error, "Redis Cluster: no node gave the slot map (" + why + "); retrying with backoff");
    const auto delay = backoff_;
    backoff_ = std::min(backoff_ * 2, settings_.reconnect_max_delay);
    schedule_refresh(refresh_again_ ? settings_.reconnect_min_delay : delay);
  }

  void apply(slot_map map, const std::string& from) {
    refreshing_ = false;
    last_refresh_ = clock_type::now();
    failures_ = 0;
    backoff_ = settings_.reconnect_min_delay;
    bool changed = false, all_ready = true;
    std::size_t uncovered = map.uncovered;
    std::string masters;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      for (const auto& m : map.masters) {
        map.links.push_back(connection_to(m));
        all_ready = all_ready && map.links.back()->ready();
        masters += (masters.empty() ? "" : ", ") + m;
      }
      changed = map.masters != map_->masters || map.owner != map_->owner;
      map_ = std::make_shared<slot_map>(std::move(map));
      // Connections to nodes that are no master now close once nothing can be in flight on them.
      const auto now = clock_type::now();
      for (auto it = connections_.begin(); it != connections_.end();) {
        const bool master = std::find(map_->masters.begin(), map_->masters.end(), it->first) != map_->masters.end();
        if (master) {
          ++it;
          continue;
        }
        auto [since, fresh] = retiring_.emplace(it->first, now);
        if (!fresh && now - since->second > 2 * settings_.command_timeout + std::chrono::seconds(1)) {
          it->second->stop();
          retiring_.erase(since);
          it = connections_.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (changed) {
      if (uncovered == 0) {
        log(log_level::info, "Redis Cluster (slot map from " + from + "): masters " + masters + "; all " +
                                 std::to_string(redis_cluster_slots) + " slots served");
        unserved_logged_ = false;
      } else {
        log(log_level::warning, "Redis Cluster (slot map from " + from + "): masters " + masters + "; " +
                                    std::to_string(uncovered) + " slots have no master (their sessions get 503)");
      }
    }
    if (refresh_again_) return schedule_refresh(std::chrono::milliseconds(50));
    // While a slot has no master or a master is not connected, ask again soon: a failover is
    // followed as soon as the cluster has promoted a replica.
    schedule_refresh(uncovered == 0 && all_ready ? settings_.endpoint.cluster.refresh_interval
                                                  : std::chrono::milliseconds(250));
  }

  asio::any_io_executor executor_;
  asio::strand<asio::any_io_executor> strand_;
  redis_connection::settings settings_;
  std::vector<std::string> seeds_;
  asio::steady_timer refresh_timer_;  // on the strand

  mutable std::mutex mutex_;  // guards what follows, up to the strand's own state
  std::shared_ptr<const slot_map> map_;
  std::map<std::string, std::shared_ptr<redis_connection>> connections_;  // by "host:port"
  std::map<std::string, clock_type::time_point> retiring_;               // no master since
  std::atomic<bool> stopped_{false};

  // The strand's own.
  bool refreshing_ = false;
  bool refresh_again_ = false;
  clock_type::time_point last_refresh_{};
  unsigned failures_ = 0;
  std::chrono::milliseconds backoff_;
  std::atomic<bool> refresh_requested_{false};
  std::atomic<bool> unserved_logged_{false};
};

}  // namespace

std::shared_ptr<redis_client> make_redis_cluster_client(asio::any_io_executor executor,
                                                        redis_connection::settings settings) {
  if (settings.endpoint.cluster.seeds.empty()) throw std::invalid_argument("Redis Cluster: no seed node");
  return std::make_shared<redis_cluster_client>(std::move(executor), std::move(settings));
}

}  // namespace sessionkit::detail
