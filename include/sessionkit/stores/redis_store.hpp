#pragma once
/// @file redis_store.hpp
/// A Redis store compatible with connect-redis (v7-v10): the same keys, values, TTLs and
/// commands, so a Node app and a sessionkit app can share one Redis. Asynchronous on Asio (hiredis
/// parses replies): no thread waits for Redis; concurrent requests share one pipelined connection
/// (on Redis Cluster, one per master, each command routed by its key's hash slot).

#include <sessionkit/store.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sessionkit {

/// TLS to Redis (`rediss://`): the server's certificate is verified (against `ca_file`, or the
/// system's CAs) and must carry the host's name; a client certificate for servers that ask.
struct redis_tls {
  bool enabled = false;
  std::string ca_file;      ///< PEM CA certificates; empty: the system's (/etc/ssl/certs)
  std::string cert_file;    ///< PEM client certificate (mutual TLS), with `key_file`
  std::string key_file;     ///< PEM private key of `cert_file`
  std::string server_name;  ///< SNI and the name to verify; empty: the URL's host
  bool verify = true;       ///< verify the server's certificate and name
};

/// Redis behind Sentinel: the sentinels to ask for the current master of `master_name`.
struct redis_sentinel {
  std::vector<std::pair<std::string, std::uint16_t>> sentinels;  ///< empty: Redis is addressed directly
  std::string master_name;
  std::string username;  ///< AUTH to the sentinels, when they require it
  std::string password;
};

/// Redis Cluster: the seed nodes the slot map is first asked for (any node of the cluster will
/// do; the others are found through it). Keys are routed by their hash slot to the master
/// that serves it.
struct redis_cluster {
  std::vector<std::pair<std::string, std::uint16_t>> seeds;  ///< empty: not a cluster
  /// How often the slot map is asked for again when nothing asked for it sooner (a MOVED
  /// reply, a node that went away, a slot without a master do, at once).
  std::chrono::milliseconds refresh_interval{std::chrono::seconds(5)};
};

/// Where Redis is and how to log in, from a URL.
struct redis_endpoint {
  std::string host = "127.0.0.1";  ///< for TCP
  std::uint16_t port = 6379;
  std::string unix_socket;  ///< a socket path instead of host and port
  std::string username;     ///< AUTH user (Redis 6 ACL); empty: `AUTH password`
  std::string password;     ///< empty: no AUTH
  unsigned database = 0;    ///< SELECT when not 0
  redis_tls tls;            ///< `rediss://`, `rediss-sentinel://`
  redis_sentinel sentinel;  ///< `redis-sentinel://`, `rediss-sentinel://`: the master is found through these
  redis_cluster cluster;    ///< `redis-cluster://`, `rediss-cluster://`: a cluster found through these seeds
};

/// Parses `redis://[user:password@]host[:port][/db]` (also `[::1]` hosts and percent-encoded
/// user and password), the same with `rediss://` (TLS; see `redis_tls` for the files), or
/// `unix:/path/to/socket[?db=N&password=P&user=U]`, or
/// `redis-sentinel://[user:password@]host:port[,host:port...]/MASTER_NAME[?db=N&sentinel_user=U&sentinel_password=P]`
/// (user and password are the master's; the sentinel's own in the query).
/// `rediss-sentinel://...` is the same through TLS: to the sentinels and to the master, with the
/// same `redis_tls` files and checks.
/// `redis-cluster://[user:password@]host:port[,host:port...][?refresh_ms=N]` names a Redis Cluster
/// by seed nodes (`rediss-cluster://` through TLS); user and password are every node's.
/// @throws std::invalid_argument with the reason when the URL is not one of those
SESSIONKIT_API redis_endpoint parse_redis_url(std::string_view url);

/// True when `url` names Redis by its scheme (redis://, rediss://, redis-sentinel://,
/// rediss-sentinel://, redis-cluster://, rediss-cluster://, unix:), whether or not the rest is valid (parse_redis_url says that).
SESSIONKIT_API bool is_redis_url(std::string_view url) noexcept;

/// Turns the stored session JSON into the Redis value and back (connect-redis `serializer`).
struct redis_serializer {
  std::function<std::string(std::string_view session_json)> stringify;
  /// @return the session JSON, or none when the value cannot be read (treated as no session)
  std::function<std::optional<std::string>(std::string_view stored)> parse;
};

/// Options, named after connect-redis's.
struct redis_store_options {
  redis_endpoint endpoint;
  std::string prefix = "sess:";  ///< key = prefix + session id
  /// Key of a session's lock (concurrency lock) = lock_prefix + "{" + session key + "}": outside
  /// `prefix` (connect-redis's SCAN of `prefix*` never sees a lock), and in the session's hash
  /// slot on Redis Cluster (the braces make the session key its hash tag; a session key with a
  /// hash tag of its own gives lock_prefix + "{tag}" + session key). No '{' in the lock prefix.
  std::string lock_prefix = "sessionkit-lock:";
  /// The user index: key of a user's sorted set of session ids (scored by expiry) =
  /// user_index_prefix + user. Outside `prefix`, so connect-redis's SCAN of `prefix*` never sees
  /// it; it expires with the last of its sessions. Empty: no index kept (destroys are then a
  /// plain DEL instead of a script that also takes the session out of its user's set).
  std::string user_index_prefix = "sessionkit-user:";
  /// TTL in seconds for sessions without a cookie expiry (connect-redis `ttl`, default 86400).
  long long ttl_seconds = 86400;
  /// Overrides every TTL when set (connect-redis `ttl` as a function).
  std::function<long long(const session_record&)> ttl_function;
  bool disable_ttl = false;    ///< SET without EX; touch does nothing
  bool disable_touch = false;  ///< touch sends no command
  unsigned scan_count = 100;   ///< COUNT for SCAN in all / ids / length / clear
  redis_serializer serializer; ///< default: the JSON as it is
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(2)};
  /// A command without a reply by then fails with `error::store_timeout` (and the connection is
  /// re-established, as everything queued behind it waits too).
  std::chrono::milliseconds command_timeout{std::chrono::seconds(2)};
  /// Acknowledged means replicated: each write of a session (save, destroy, the lock's and
  /// merge's writes) is followed by `WAIT wait_replicas wait_timeout`, and a write that fewer
  /// replicas have by then fails (`error::store_unavailable`, a 503): nothing is acknowledged
  /// that a failover could lose. 0 (the default): no waiting. Touches and lock takes do not
  /// wait (losing one only shortens a session's life or a lock's).
  unsigned wait_replicas = 0;
  /// How long a write waits for its replicas; shorter than `command_timeout`.
  std::chrono::milliseconds wait_timeout{std::chrono::milliseconds(500)};
  std::chrono::milliseconds reconnect_min_delay{std::chrono::milliseconds(50)};
  std::chrono::milliseconds reconnect_max_delay{std::chrono::seconds(2)};
};

/// The TTL connect-redis gives a record: the function if set, else seconds until
/// `record.expires` rounded up, else `ttl_seconds`. Zero or less means "delete, don't store".
SESSIONKIT_API long long redis_ttl_for(const redis_store_options& options, const session_record& record,
                                       timestamp at = now());

/// Sessions in Redis, connect-redis compatible.
///
/// Redis down or slow: operations fail within `command_timeout` with
/// `error::store_unavailable` or `error::store_timeout` (503s), `ready()` is false while
/// disconnected, and the store reconnects by itself with backoff.
class SESSIONKIT_API redis_store final : public store {
 public:
  /// Starts connecting at once. Completions run on `executor` (internally on a strand).
  redis_store(boost::asio::any_io_executor executor, redis_store_options options);
  ~redis_store() override;

  void get(std::string_view id, get_handler handler) override;
  void set(std::string_view id, session_record record, completion_handler handler) override;
  bool has_conditional_set() const noexcept override { return true; }
  /// `SET ... XX` / `SET ... NX`: checked and written in one step.
  void set_if(std::string_view id, session_record record, write_condition condition,
              completion_handler handler) override;
  void destroy(std::string_view id, completion_handler handler) override;
  bool has_touch() const noexcept override { return true; }
  void touch(std::string_view id, session_record record, completion_handler handler) override;
  /// Locks are keys beside the sessions (see `redis_store_options::lock_prefix`) holding the
  /// owner's token with a `PX` lease; taking one loads the session in the same script, and the
  /// save releases it in the same script as its write: no round trip more than without locks.
  bool has_locks() const noexcept override { return true; }
  /// Completions run on the connection's strand, no lock held: a request resumes inside them.
  bool continuations_may_run_inline() const noexcept override { return true; }
  void lock_and_get(std::string_view id, lock_claim claim, lock_handler handler) override;
  void write_and_unlock(std::string_view id, std::string_view owner, locked_write write,
                        completion_handler handler) override;
  void defer_for(std::chrono::milliseconds delay, detail::unique_function<void()> fn) override;
  /// A script compares the stored value with the expected one and writes in one step. Needs a
  /// serializer whose output `parse` gives back exactly (the default does).
  bool has_compare_and_set() const noexcept override { return true; }
  void compare_and_set(std::string_view id, std::string_view expected, session_record record,
                       compare_and_set_handler handler) override;
  bool ready() const noexcept override;
  /// A sorted set per user beside the sessions (see `redis_store_options::user_index_prefix`).
  bool has_user_index() const noexcept override { return !options().user_index_prefix.empty(); }
  /// Drops the ids whose session is gone or belongs to someone else now, as it reads them.
  void sessions_of(std::string_view user, sessions_handler handler) override;
  void all(all_handler handler) override;
  void ids(ids_handler handler) override;
  void length(length_handler handler) override;
  void clear(completion_handler handler) override;
  /// One SCAN step (the cursor is Redis's), then the values (MGET) and lifetimes (PTTL).
  void page(std::string_view cursor, std::size_t size, page_handler handler) override;
  void defer(detail::unique_function<void()> fn) override;

  /// Closes the connection; operations in flight complete with `error::shut_down`.
  void shutdown() override;

  const redis_store_options& options() const noexcept;

  /// How many writes went to Redis's socket so far: the commands of all requests ready in one
  /// turn of the event loop share one write, so this grows slower than the commands (diagnostics).
  std::uint64_t writes() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace sessionkit
