#pragma once
// What RedisStore sends its commands through: one Redis (a URL's server, or the master the
// sentinels name) or a Redis Cluster, whose client routes each command by its key's hash slot.
// The store names the key of every command; all keys of one call share a hash slot.

#include "redis_connection.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sessionkit::detail {

class redis_client {
 public:
  using reply_handler = redis_connection::reply_handler;

  virtual ~redis_client() = default;

  virtual void start() = 0;
  /// Closes for good: commands in flight complete with `error::shut_down`.
  virtual void stop() = 0;
  /// Sends `wire`: `replies` commands (RESP) back to back, all on keys in the slot of `key`. The
  /// handler gets their replies (one as it is, several as an array), exactly once, never inside
  /// this call.
  virtual void execute(std::string_view key, std::string wire, std::size_t replies, reply_handler handler) = 0;
  /// A write acknowledged once `replicas` replicas have it (see `redis_connection`).
  virtual void execute_with_wait(std::string_view key, std::string wire, unsigned replicas,
                                 std::chrono::milliseconds timeout, reply_handler handler) = 0;
  /// Sends `replies` commands that name no key (SCAN, CLUSTER ...) to a node of a cluster, by
  /// "host:port" (one Redis: to it, whatever the name).
  virtual void execute_on(const std::string& holder, std::string wire, std::size_t replies, reply_handler handler) = 0;
  /// A cluster: the master of `slot` in the slot map now ("host:port"; "" when none).
  virtual std::string holder_of(unsigned slot) = 0;
  /// A cluster: asks for the slot map again soon.
  virtual void refresh_soon() = 0;
  /// True for a cluster: keys in different slots never share a command.
  virtual bool is_cluster() const noexcept = 0;
  /// Runs `fn` later (on the client's strand), after `delay`.
  virtual void post(unique_function<void()> fn) = 0;
  virtual void post_after(std::chrono::milliseconds delay, unique_function<void()> fn) = 0;
  /// Ready for commands (a cluster: on the keys of at least one master).
  virtual bool ready() const noexcept = 0;
  /// How many writes have gone to Redis's sockets so far.
  virtual std::uint64_t writes() const noexcept = 0;
};

/// One Redis: every command on its one connection.
std::shared_ptr<redis_client> make_single_redis_client(boost::asio::any_io_executor executor,
                                                       redis_connection::settings settings);

/// A Redis Cluster found through `settings.endpoint.cluster.seeds`.
std::shared_ptr<redis_client> make_redis_cluster_client(boost::asio::any_io_executor executor,
                                                        redis_connection::settings settings);

}  // namespace sessionkit::detail
