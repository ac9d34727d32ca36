#include <sessionkit/stores/redis_store.hpp>

#include "cluster_slot_walk.hpp"
#include "redis_client.hpp"
#include "redis_hash_slot.hpp"

#include <sessionkit/id.hpp>
#include <sessionkit/json.hpp>
#include <sessionkit/log.hpp>
#include <sessionkit/session.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <limits>
#include <span>
#include <stdexcept>
#include <unordered_set>

namespace sessionkit {

using detail::redis_reply;

long long redis_ttl_for(const redis_store_options& options, const session_record& record, timestamp at) {
  if (options.ttl_function) return options.ttl_function(record);
  if (record.expires) {
    const long long ms = (*record.expires - at).count();
    return ms > 0 ? (ms + 999) / 1000 : -((-ms) / 1000);  // ceil, as connect-redis does
  }
  return options.ttl_seconds > 0 ? options.ttl_seconds : 86400;  // `ttl || 86400`
}

namespace {

// Errors Redis gives while it cannot take writes for now: the client should retry later (503).
bool is_transient_redis_error(std::string_view text) {
  for (std::string_view prefix : {"OOM", "READONLY", "LOADING", "BUSY", "MASTERDOWN", "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN"})
    if (text.substr(0, prefix.size()) == prefix) return true;
  return false;
}

// The record's top-level "user" string, or "" (not a session, or nobody logged in).
std::string record_user(std::string_view json) {
  std::error_code ec;
  const auto parsed = parse_json(json, ec);
  if (!parsed || !parsed->is_object()) return {};
  const boost::json::value* user = parsed->get_object().if_contains(session_keys::user);
  return user && user->is_string() ? std::string(user->get_string()) : std::string();
}

std::error_code error_of(const redis_reply& r) {
  if (r.type != redis_reply::kind::error) return {};
  return is_transient_redis_error(r.text) ? error::store_unavailable : error::store_failure;
}

// Deletes session key `session_key` and takes `id` out of its user's set (user index prefix
// `prefix`): the user is read from the record itself, so any destroy keeps the index right. The
// set then expires with the latest of the sessions left (an empty set is gone already).
#define SESSIONKIT_LUA_DELETE_SESSION(session_key, prefix, id) \
  "local value = redis.pcall('GET', " session_key ")\n" \
  "if type(value) == 'string' and " prefix " ~= '' then\n" \
  "  local ok, record = pcall(cjson.decode, value)\n" \
  "  if ok and type(record) == 'table' and type(record.user) == 'string' then\n" \
  "    local index = " prefix " .. record.user\n" \
  "    redis.call('ZREM', index, " id ")\n" \
  "    local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')\n" \
  "    local until_ms = tonumber(last[2])\n" \
  "    if until_ms and until_ms < math.huge then redis.call('PEXPIREAT', index, string.format('%d', until_ms)) end\n" \
  "  end\n" \
  "end\n" \
  "redis.call('DEL', " session_key ")\n"

// KEYS[1] the session; ARGV[1] the user index prefix, ARGV[2] the session id.
constexpr std::string_view destroy_script = SESSIONKIT_LUA_DELETE_SESSION("KEYS[1]", "ARGV[1]", "ARGV[2]") "return 1\n";

// The scripts of the lock and compare-and-set capabilities: each one step on the server.
// KEYS[1] the lock, KEYS[2] the session; ARGV[1] the owner's token, ARGV[2] what to do
// ('set', 'touch', 'del' or 'none'), ARGV[3] the value, ARGV[4] the TTL in seconds ('' none),
// ARGV[5] 'XX', 'NX' or '', ARGV[6] the user index prefix, ARGV[7] the session id. A set needs
// the lock still held by the owner (-1: lost, nothing written); 0: the set's condition did not
// hold; 1: done. The lock is released if it is ours.
constexpr std::string_view write_and_unlock_script = R"lua(
local ours = redis.pcall('GET', KEYS[1]) == ARGV[1]
local result = 1
local what = ARGV[2]
if what == 'set' then
  if not ours then return -1 end
  local ok
  if ARGV[4] == '' then
    if ARGV[5] == '' then ok = redis.call('SET', KEYS[2], ARGV[3]) else ok = redis.call('SET', KEYS[2], ARGV[3], ARGV[5]) end
  elseif ARGV[5] == '' then ok = redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
  else ok = redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4], ARGV[5]) end
  if not ok then result = 0 end
elseif what == 'touch' then
  if ARGV[4] ~= '' then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
elseif what == 'del' then
)lua" SESSIONKIT_LUA_DELETE_SESSION("KEYS[2]", "ARGV[6]", "ARGV[7]") R"lua(
end
if ours then redis.call('DEL', KEYS[1]) end
return result
)lua";
#undef SESSIONKIT_LUA_DELETE_SESSION

// KEYS[1] the session; ARGV[1] the value expected, ARGV[2] the new value, ARGV[3] the TTL in
// seconds ('' none, 'del' delete). {1}: written; {0}: no session; {2, value}: another value.
constexpr std::string_view compare_and_set_script = R"lua(
local value = redis.pcall('GET', KEYS[1])
if type(value) == 'table' or not value or value == '' then return {0} end
if value ~= ARGV[1] then return {2, value} end
if ARGV[3] == 'del' then redis.call('DEL', KEYS[1])
elseif ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2])
else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
return {1}
)lua";

}  // namespace

// A script sent by its SHA1 (EVALSHA): Redis caches scripts, so the body goes over the wire only
// when Redis does not know it yet (NOSCRIPT, after a restart or SCRIPT FLUSH).
struct lua_script {
  std::string_view body;
  std::string sha;
  explicit lua_script(std::string_view text) : body(text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < size; ++i) {
      sha.push_back(hex[digest[i] >> 4]);
      sha.push_back(hex[digest[i] & 15]);
    }
  }
};

const lua_script& write_and_unlock_lua() {
  static const lua_script s(write_and_unlock_script);
  return s;
}
const lua_script& compare_and_set_lua() {
  static const lua_script s(compare_and_set_script);
  return s;
}

struct redis_store::impl : std::enable_shared_from_this<impl> {
  redis_store_options options;
  std::shared_ptr<detail::redis_client> client;
  using reply_handler = detail::redis_client::reply_handler;

  std::string key(std::string_view id) const {
    std::string k;
    k.reserve(options.prefix.size() + id.size());
    return k.append(options.prefix).append(id);
  }
  // The same in this thread's buffer, valid until the next call on this thread: for a key that
  // only goes into a command's wire (and names its slot), so a request's commands allocate none.
  std::string_view key_in_scratch(std::string_view id) const {
    thread_local std::string k;
    k.assign(options.prefix).append(id);
    return k;
  }

  // No serializer given: the Redis value is the session JSON as it is, with no copy through the
  // serializer's functions (which, filled in as identities, give the same bytes: tested).
  bool plain_values = true;
  std::string stringify(std::string_view json) const {
    return plain_values ? std::string(json) : options.serializer.stringify(json);
  }
  std::optional<std::string> parse(std::string&& stored) const {
    if (plain_values) return std::move(stored);
    return options.serializer.parse(stored);
  }
  // The session key in braces: a hash tag, so that on a cluster the lock sits in the session's
  // slot. A session key with a hash tag of its own (an id with braces) gives that tag, then the
  // key: "lock:{tag}sess:..{tag}..".
  std::string lock_key(std::string_view id) const {
    const std::string session_key = key(id);
    const std::string_view tag = detail::redis_hash_tag(session_key);
    std::string k;
    k.reserve(options.lock_prefix.size() + session_key.size() + tag.size() + 2);
    k.append(options.lock_prefix).append("{").append(tag).append("}");
    if (tag.size() != session_key.size()) k.append(session_key);
    return k;
  }

  std::string index_key(std::string_view user) const { return options.user_index_prefix + std::string(user); }
  // Drops the members of user set `key` whose entry ended before `at`.
  static std::string prune_index(const std::string& key, timestamp at) {
    return detail::resp_command({"ZREMRANGEBYSCORE", key, "-inf", "(" + std::to_string(at.time_since_epoch().count())});
  }

  // Keeps session `id` in its user's set (when the record has a user and the entry is not
  // current already): scored by the record's expiry plus its slack, expired members dropped, and
  // the set's own expiry pushed to the latest of its sessions (NX for a new set, then GT).
  // Returns the handler for the record's own write: the update goes once the write is answered
  // (sent earlier, a listing could find the id in the set before its session exists, take it
  // for a destroyed one and drop it: on a cluster the set is on another master, and on one Redis
  // a listing's ZRANGE and GET can fall between the update and a write sent from another thread
  // a moment later), and the write is acknowledged only after the update answered (not done
  // before its session is listed). A write that failed or did not happen (SET NX/XX: nil)
  // updates nothing.
  reply_handler indexed(std::string_view id, const session_record& record, reply_handler write) {
    if (record.user.empty() || record.index_current || options.user_index_prefix.empty()) return write;
    const std::string key = index_key(record.user);
    const timestamp at = now();
    const long long ttl_ms = redis_ttl_for(options, record, at) * 1000 + record.index_slack.count();
    const std::string expiry = std::to_string(at.time_since_epoch().count() + ttl_ms);
    const std::string score = options.disable_ttl ? std::string("+inf") : expiry;
    std::string wire = prune_index(key, at);
    wire += detail::resp_command({"ZADD", key, score, id});
    std::size_t replies = 2;
    if (!options.disable_ttl) {
      wire += detail::resp_command({"PEXPIREAT", key, expiry, "NX"});
      wire += detail::resp_command({"PEXPIREAT", key, expiry, "GT"});
      replies += 2;
    }
    return [self = shared_from_this(), key, wire = std::move(wire), replies, write = std::move(write)](
               std::error_code ec, redis_reply r) mutable {
      if (ec || r.type == redis_reply::kind::error || r.type == redis_reply::kind::nil)
        return write(ec, std::move(r));  // nothing written
      self->client->execute(key, std::move(wire), replies,
                            [ec, r = std::move(r), write = std::move(write)](std::error_code index_ec,
                                                                             redis_reply index_reply) mutable {
                              index_update_done(index_ec, std::move(index_reply));
                              write(ec, std::move(r));
                            });
    };
  }

  // The answer to a user-index update: a failure is logged; the write itself stands.
  static void index_update_done(std::error_code ec, redis_reply r) {
    for (const auto& each : r.elements)
      if (!ec && each.type == redis_reply::kind::error) ec = error_of(each);
    if (ec && !is_unavailable(ec)) log(log_level::error, "Redis user index update failed: " + ec.message());
  }

  // The EX argument of a write: seconds, '' for none (disable_ttl); none when the record is
  // expired already (connect-redis deletes it instead).
  std::optional<std::string> ttl_argument(const session_record& record) const {
    if (options.disable_ttl) return std::string();
    const long long ttl = redis_ttl_for(options, record);
    if (ttl <= 0) return std::nullopt;
    return std::to_string(ttl);
  }

  // EVALSHA sha numkeys args..., falling back to EVAL when Redis does not have the script. A
  // script that writes waits for the replicas like any write.
  // `key`: the first key the script names (all its keys share a slot).
  void run_script(std::string_view key, const lua_script& script, std::initializer_list<std::string_view> args,
                  reply_handler h) {
    std::vector<std::string_view> command{"EVALSHA", script.sha};
    command.insert(command.end(), args);
    std::string wire = detail::resp_command(command);
    std::string again = wire;
    run_write(key, std::move(wire), [self = shared_from_this(), key = std::string(key), &script, again = std::move(again),
                                     h = std::move(h)](std::error_code ec, redis_reply r) mutable {
      if (ec || r.type != redis_reply::kind::error || r.text.rfind("NOSCRIPT", 0) != 0) return h(ec, std::move(r));
      self->run_write(key, eval_instead(again, script.body), std::move(h));
    });
  }

  // The EVAL form of an EVALSHA command in RESP: "*N", "EVALSHA", the 40-digit sha, then the
  // arguments, which stay as they are.
  static std::string eval_instead(const std::string& evalsha, std::string_view body) {
    const std::size_t header = evalsha.find("\r\n") + 2;
    constexpr std::size_t name_and_sha = std::string_view("$7\r\nEVALSHA\r\n$40\r\n").size() + 40 + 2;
    std::string out = evalsha.substr(0, header) + "$4\r\nEVAL\r\n$" + std::to_string(body.size()) + "\r\n";
    out.append(body);
    out += "\r\n";
    out.append(evalsha, header + name_and_sha);
    return out;
  }

  // A write to a session: with `wait_replicas`, acknowledged only once that many replicas have
  // it (WAIT, right behind it in the same batch); otherwise as any command.
  void run_write(std::string_view key, std::string wire, reply_handler h) {
    if (options.wait_replicas == 0) return run(key, std::move(wire), std::move(h));
    client->execute_with_wait(key, std::move(wire), options.wait_replicas, options.wait_timeout, std::move(h));
  }
  void run_simple_write(std::string_view key, std::string wire, completion_handler handler) {
    run_write(key, std::move(wire), simple_completion(std::move(handler)));
  }
  // The reply handler of a command whose reply carries nothing but success or an error.
  static reply_handler simple_completion(completion_handler handler) {
    return [h = std::move(handler)](std::error_code ec, redis_reply r) mutable { h(reply_error(ec, r)); };
  }

  // Maps (and logs) an error reply.
  static std::error_code reply_error(std::error_code ec, const redis_reply& r) {
    if (!ec) ec = error_of(r);
    if (ec && !is_unavailable(ec)) log(log_level::error, "Redis command failed: " + r.text);
    return ec;
  }

  // One command on `key`.
  void run(std::string_view key, std::string wire, reply_handler h) {
    client->execute(key, std::move(wire), 1, std::move(h));
  }

  // Completes with an error, or success, for a command whose reply carries nothing else.
  void run_simple(std::string_view key, std::string wire, completion_handler handler) {
    run(key, std::move(wire), simple_completion(std::move(handler)));
  }

  // The user index prefix the scripts get: on a cluster none (a script may touch only keys in
  // its own slot, and a user's set is elsewhere), so destroys leave the id in the set until
  // `sessions_of` finds its session gone.
  std::string_view script_index_prefix() const {
    return client->is_cluster() ? std::string_view() : std::string_view(options.user_index_prefix);
  }

  using keys_handler = detail::unique_function<void(std::error_code, std::vector<std::string>)>;

  // Every session key. One Redis: SCAN cursor MATCH prefix* COUNT n until the cursor is back to
  // 0, keys de-duplicated. A cluster: the slot-by-slot walk that `page` takes, in one go (exact
  // while slots migrate; SCAN per master is not: a key moving to a master already walked is
  // missed).
  void scan_all(keys_handler done) {
    if (client->is_cluster())
      return detail::walk_cluster_slots(client, options.prefix, 0, std::numeric_limits<std::size_t>::max(),
                                        [done = std::move(done)](std::error_code ec, detail::slot_walk_step step) mutable {
                                          done(ec, std::move(step.keys));
                                        });
    scan("0", std::make_shared<std::vector<std::string>>(), std::make_shared<std::unordered_set<std::string>>(),
         std::move(done));
  }

  void scan(std::string cursor, std::shared_ptr<std::vector<std::string>> keys,
            std::shared_ptr<std::unordered_set<std::string>> seen, keys_handler done) {
    client->execute_on(
        "redis",
        detail::resp_command({"SCAN", cursor, "MATCH", options.prefix + "*", "COUNT", std::to_string(options.scan_count)}), 1,
        [self = shared_from_this(), keys, seen, done = std::move(done)](std::error_code ec, redis_reply r) mutable {
          if (!ec) ec = error_of(r);
          if (!ec && (r.type != redis_reply::kind::array || r.elements.size() != 2)) ec = error::store_failure;
          if (ec) return done(ec, {});
          for (auto& k : r.elements[1].elements)
            if (seen->insert(k.text).second) keys->push_back(std::move(k.text));
          const std::string next = r.elements[0].text;
          if (next == "0") return done({}, std::move(*keys));
          self->scan(next, keys, seen, std::move(done));
        });
  }

  std::string id_of(std::string_view key) const { return std::string(key.substr(options.prefix.size())); }

  // Sends `make(key)` (RESP, `replies` commands) for each key, each routed by its key (on a
  // cluster, keys in different slots never share a command; on one Redis they all go in one
  // write), and gives the replies in the keys' order, or the first error.
  template <class Make>
  void for_each_key(const std::vector<std::string>& keys, std::size_t replies, Make make,
                    detail::unique_function<void(std::error_code, std::vector<redis_reply>)> done) {
    struct gather {
      std::vector<redis_reply> replies;
      std::vector<std::error_code> errors;
      std::atomic<std::size_t> left{0};
      detail::unique_function<void(std::error_code, std::vector<redis_reply>)> done;
    };
    if (keys.empty()) return client->post([d = std::move(done)]() mutable { d({}, {}); });
    auto g = std::make_shared<gather>();
    g->replies.resize(keys.size());
    g->errors.resize(keys.size());
    g->left = keys.size();
    g->done = std::move(done);
    for (std::size_t i = 0; i < keys.size(); ++i)
      client->execute(keys[i], make(keys[i]), replies, [g, i](std::error_code ec, redis_reply r) {
        g->errors[i] = ec;
        g->replies[i] = std::move(r);
        // The last reply (whichever node's) completes; acq_rel makes the others' writes visible.
        if (g->left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        for (const auto& e : g->errors)
          if (e) return g->done(e, {});
        g->done({}, std::move(g->replies));
      });
  }

  // The live sessions under `keys` with their lifetimes: GET and PTTL per key. Keys gone
  // meanwhile are left out.
  void read_sessions(std::vector<std::string> keys,
                     detail::unique_function<void(std::error_code, std::vector<listed_session>)> done) {
    auto shared_keys = std::make_shared<std::vector<std::string>>(std::move(keys));
    for_each_key(*shared_keys, 2,
                 [](const std::string& k) { return detail::resp_command({"GET", k}) + detail::resp_command({"PTTL", k}); },
                 [self = shared_from_this(), keys = shared_keys, done = std::move(done)](
                     std::error_code ec, std::vector<redis_reply> replies) mutable {
                   if (ec) return done(ec, {});
                   std::vector<listed_session> out;
                   const timestamp at = now();
                   for (std::size_t i = 0; i < keys->size(); ++i) {
                     redis_reply& r = replies[i];
                     if (r.type != redis_reply::kind::array || r.elements.size() != 2) return done(error::store_failure, {});
                     if (const auto e = error_of(r.elements[0])) return done(e, {});
                     if (r.elements[0].type != redis_reply::kind::string) continue;  // gone meanwhile
                     auto json = self->parse(std::move(r.elements[0].text));
                     if (!json) continue;
                     std::optional<timestamp> expires;
                     if (const long long ms = r.elements[1].integer; ms >= 0) expires = at + std::chrono::milliseconds(ms);
                     out.push_back({self->id_of((*keys)[i]), std::move(*json), expires});
                   }
                   done({}, std::move(out));
                 });
  }

  // The lock of session `id` is someone else's: how long it stays (PTTL) tells the waiter when
  // to try again.
  void lock_held(std::string id, std::string lock_key, std::string lease, lock_handler h) {
    run(lock_key, detail::resp_command({"PTTL", lock_key}), [self = shared_from_this(), id = std::move(id),
                                                   lock_key, lease = std::move(lease),
                                                   h = std::move(h)](std::error_code ec, redis_reply r) mutable {
      lock_result result;
      result.error = reply_error(ec, r);
      if (result.error) return h(std::move(result));
      const long long left = r.integer;
      result.held_for = std::chrono::milliseconds(std::max<long long>(0, left));
      // A lock key with no expiry is none of ours (a foreign value): it gets the lease as its
      // expiry (NX: only if it still has none), so it cannot block the session forever.
      if (left == -1) {
        log(log_level::warning, "Redis lock key of session " + redact_id(id) +
                                    " has no expiry (not written by sessionkit); giving it one");
        self->run(lock_key, detail::resp_command({"PEXPIRE", lock_key, lease, "NX"}), [](std::error_code, redis_reply) {});
      }
      h(std::move(result));
    });
  }
};

redis_store::redis_store(boost::asio::any_io_executor executor, redis_store_options options)
    : impl_(std::make_shared<impl>()) {
  if (options.wait_replicas > 0 && options.wait_timeout >= options.command_timeout)
    throw std::invalid_argument("Redis: the replica wait timeout (" + std::to_string(options.wait_timeout.count()) +
                                " ms) must be shorter than the command timeout (" +
                                std::to_string(options.command_timeout.count()) + " ms)");
  impl_->plain_values = !options.serializer.stringify && !options.serializer.parse;
  if (!options.serializer.stringify) options.serializer.stringify = [](std::string_view j) { return std::string(j); };
  if (!options.serializer.parse)
    options.serializer.parse = [](std::string_view s) { return std::optional<std::string>(std::string(s)); };
  impl_->options = std::move(options);
  const auto& o = impl_->options;
  detail::redis_connection::settings settings;
  settings.endpoint = o.endpoint;
  settings.connect_timeout = o.connect_timeout;
  settings.command_timeout = o.command_timeout;
  settings.reconnect_min_delay = o.reconnect_min_delay;
  settings.reconnect_max_delay = o.reconnect_max_delay;
  impl_->client = o.endpoint.cluster.seeds.empty() ? detail::make_single_redis_client(std::move(executor), std::move(settings))
                                                   : detail::make_redis_cluster_client(std::move(executor), std::move(settings));
  impl_->client->start();
}

redis_store::~redis_store() { shutdown(); }

void redis_store::shutdown() { impl_->client->stop(); }

bool redis_store::ready() const noexcept { return impl_->client->ready(); }

const redis_store_options& redis_store::options() const noexcept { return impl_->options; }

std::uint64_t redis_store::writes() const noexcept { return impl_->client->writes(); }

void redis_store::defer(detail::unique_function<void()> fn) { impl_->client->post(std::move(fn)); }

void redis_store::get(std::string_view id, get_handler handler) {
  const std::string_view key = impl_->key_in_scratch(id);
  // The id only for a warning: shortened, it fits in the string itself (no allocation).
  impl_->run(key, detail::resp_command({"GET", key}), [self = impl_, shown = redact_id(id), h = std::move(handler)](
                                          std::error_code ec, redis_reply r) mutable {
    if (ec) return h(ec, std::nullopt);
    if (r.type == redis_reply::kind::nil || (r.type == redis_reply::kind::string && r.text.empty()))
      return h({}, std::nullopt);
    if (r.type == redis_reply::kind::error) {
      if (is_transient_redis_error(r.text)) return h(error::store_unavailable, std::nullopt);
      // WRONGTYPE and the like: the key does not hold a session.
      log(log_level::warning, "Redis value of session " + shown + " is unreadable: " + r.text);
      return h({}, std::nullopt);
    }
    auto json = self->parse(std::move(r.text));
    if (!json) log(log_level::warning, "Redis value of session " + shown + " cannot be parsed");
    h({}, std::move(json));
  });
}

void redis_store::set(std::string_view id, session_record record, completion_handler handler) {
  set_if(id, std::move(record), write_condition::always, std::move(handler));
}

void redis_store::set_if(std::string_view id, session_record record, write_condition condition,
                         completion_handler handler) {
  const long long ttl = redis_ttl_for(impl_->options, record);
  if (ttl <= 0) {
    // An expired session is deleted, not written (connect-redis does the same); a new one that
    // is expired already has nothing to insert.
    if (condition == write_condition::if_absent) return defer([h = std::move(handler)]() mutable { h({}); });
    const std::string key = impl_->key(id);
    impl_->run_simple_write(key, detail::resp_command({"DEL", key}), std::move(handler));
    return;
  }
  // SET key value [EX ttl] [XX|NX], the wire made in one piece.
  std::string stringified;
  std::string_view value = record.json;
  if (!impl_->plain_values) value = stringified = impl_->stringify(record.json);
  const std::string ttl_text = std::to_string(ttl);
  const std::string_view key = impl_->key_in_scratch(id);
  std::array<std::string_view, 6> command{"SET", key, value};
  std::size_t args = 3;
  if (!impl_->options.disable_ttl) {
    command[args++] = "EX";
    command[args++] = ttl_text;
  }
  // XX / NX: Redis checks and writes in one step, so a destroy on another server is final.
  if (condition == write_condition::if_present) command[args++] = "XX";
  if (condition == write_condition::if_absent) command[args++] = "NX";
  std::string wire = detail::resp_command(std::span<const std::string_view>(command.data(), args));
  impl::reply_handler done;
  if (condition == write_condition::always) {
    done = impl::simple_completion(std::move(handler));
  } else {
    done = [h = std::move(handler)](std::error_code ec, redis_reply r) mutable {
      if (!ec && r.type == redis_reply::kind::nil) return h(error::session_gone);  // the condition did not hold
      h(impl::reply_error(ec, r));
    };
  }
  done = impl_->indexed(id, record, std::move(done));
  impl_->run_write(key, std::move(wire), std::move(done));
}

void redis_store::destroy(std::string_view id, completion_handler handler) {
  const std::string key = impl_->key(id);
  if (impl_->script_index_prefix().empty())
    return impl_->run_simple_write(key, detail::resp_command({"DEL", key}), std::move(handler));
  // EVAL with the body, not EVALSHA: a destroy may be sent without waiting for it (a timed-out
  // session's), and a NOSCRIPT retry would come after the request's later commands; Redis caches
  // the script either way, and destroys are rare enough for the bytes.
  impl_->run_simple_write(key, detail::resp_command({"EVAL", destroy_script, "1", key, impl_->script_index_prefix(), id}),
                          std::move(handler));
}

void redis_store::touch(std::string_view id, session_record record, completion_handler handler) {
  if (impl_->options.disable_touch || impl_->options.disable_ttl) {
    defer([h = std::move(handler)]() mutable { h({}); });
    return;
  }
  impl::reply_handler done = impl_->indexed(id, record, impl::simple_completion(std::move(handler)));
  const std::string_view key = impl_->key_in_scratch(id);
  impl_->run(key, detail::resp_command({"EXPIRE", key, std::to_string(redis_ttl_for(impl_->options, record))}),
             std::move(done));
}

void redis_store::defer_for(std::chrono::milliseconds delay, detail::unique_function<void()> fn) {
  impl_->client->post_after(delay, std::move(fn));
}

// SET lock owner NX PX lease and GET session, pipelined: Redis runs them in order, so when the
// SET took the lock the GET reads the session under it (every writer in lock mode needs the
// lock); when the lock is held, the GET's answer is dropped and PTTL asks how long it stays.
// No MULTI and no script: the cheapest form for Redis and for us.
void redis_store::lock_and_get(std::string_view id, lock_claim claim, lock_handler handler) {
  std::string lock_key = impl_->lock_key(id);
  std::string lease = std::to_string(std::max<long long>(1, claim.lease.count()));
  const std::string key = impl_->key(id);
  std::string wire = detail::resp_command({"SET", lock_key, claim.owner, "NX", "PX", lease});
  wire += detail::resp_command({"GET", key});
  impl_->client->execute(
      key, std::move(wire), 2, [self = impl_, id = std::string(id), lock_key = std::move(lock_key), lease = std::move(lease),
                           h = std::move(handler)](std::error_code ec, redis_reply r) mutable {
        lock_result result;
        result.error = ec ? ec : impl::reply_error({}, r.elements[0]);
        if (result.error) return h(std::move(result));
        result.acquired = r.elements[0].type == redis_reply::kind::status;  // OK; nil: held
        if (!result.acquired) return self->lock_held(std::move(id), std::move(lock_key), std::move(lease), std::move(h));
        redis_reply& value = r.elements[1];
        if (value.type == redis_reply::kind::string && !value.text.empty()) {
          result.json = self->parse(std::move(value.text));
          if (!result.json) log(log_level::warning, "Redis value of session " + redact_id(id) + " cannot be parsed");
        } else if (value.type == redis_reply::kind::error) {
          log(log_level::warning, "Redis value of session " + redact_id(id) + " is unreadable: " + value.text);
        }
        h(std::move(result));
      });
}

void redis_store::write_and_unlock(std::string_view id, std::string_view owner, locked_write write,
                                   completion_handler handler) {
  std::string_view what = "none";
  std::string value, ttl, condition;
  switch (write.what) {
    case locked_write::kind::none: break;
    case locked_write::kind::set:
      if (auto t = impl_->ttl_argument(write.record)) {
        what = "set";
        value = impl_->stringify(write.record.json);
        ttl = std::move(*t);
        if (write.condition == write_condition::if_present) condition = "XX";
        if (write.condition == write_condition::if_absent) condition = "NX";
      } else if (write.condition != write_condition::if_absent) {
        what = "del";  // expired: deleted, as connect-redis does
      }
      break;
    case locked_write::kind::touch:
      if (!impl_->options.disable_touch && !impl_->options.disable_ttl) {
        what = "touch";
        ttl = std::to_string(redis_ttl_for(impl_->options, write.record));
      }
      break;
    case locked_write::kind::destroy: what = "del"; break;
  }
  impl::reply_handler done = [h = std::move(handler)](std::error_code ec, redis_reply r) mutable {
    ec = impl::reply_error(ec, r);
    if (!ec && r.type != redis_reply::kind::integer) ec = error::store_failure;
    if (!ec && r.integer == -1) ec = error::lock_lost;
    if (!ec && r.integer == 0) ec = error::session_gone;
    h(ec);
  };
  if (what == "set" || what == "touch") done = impl_->indexed(id, write.record, std::move(done));
  const std::string key = impl_->key(id);
  impl_->run_script(key, write_and_unlock_lua(), {"2", impl_->lock_key(id), key, owner, what, value, ttl, condition,
                                                  impl_->script_index_prefix(), id},
                    std::move(done));
}

void redis_store::compare_and_set(std::string_view id, std::string_view expected, session_record record,
                                  compare_and_set_handler handler) {
  const auto ttl = impl_->ttl_argument(record);
  impl::reply_handler done = [self = impl_, h = std::move(handler)](std::error_code ec, redis_reply r) mutable {
    compare_and_set_result result;
    result.error = impl::reply_error(ec, r);
    if (!result.error && (r.type != redis_reply::kind::array || r.elements.empty()))
      result.error = error::store_failure;
    if (result.error) return h(std::move(result));
    switch (r.elements[0].integer) {
      case 1: break;
      case 0: result.error = error::session_gone; break;
      default:
        result.error = error::record_changed;
        if (r.elements.size() == 2) result.current = self->parse(std::move(r.elements[1].text));
    }
    h(std::move(result));
  };
  if (ttl) done = impl_->indexed(id, record, std::move(done));
  const std::string key = impl_->key(id);
  impl_->run_script(key, compare_and_set_lua(),
                    {"1", key, impl_->stringify(expected), impl_->stringify(record.json), ttl ? std::string_view(*ttl) : "del"},
                    std::move(done));
}

void redis_store::ids(ids_handler handler) {
  impl_->scan_all([self = impl_, h = std::move(handler)](std::error_code ec, std::vector<std::string> keys) mutable {
    for (auto& k : keys) k = self->id_of(k);
    h(ec, std::move(keys));
  });
}

void redis_store::length(length_handler handler) {
  impl_->scan_all([h = std::move(handler)](std::error_code ec, std::vector<std::string> keys) mutable {
    h(ec, keys.size());
  });
}

void redis_store::clear(completion_handler handler) {
  impl_->scan_all([self = impl_, h = std::move(handler)](std::error_code ec, std::vector<std::string> keys) mutable {
    if (ec || keys.empty()) return h(ec);
    // A DEL per key: on a cluster the keys are in many slots (one DEL across them would be
    // refused with CROSSSLOT); on one Redis they still go out in one write.
    self->for_each_key(keys, 1, [](const std::string& k) { return detail::resp_command({"DEL", k}); },
                       [h = std::move(h)](std::error_code ec, std::vector<redis_reply> replies) mutable {
                         for (const auto& r : replies)
                           if (!ec) ec = impl::reply_error({}, r);
                         h(ec);
                       });
  });
}

// One SCAN step, then the values and lifetimes of what it found. On a cluster, the keys of whole
// slots in slot order (the cursor is the next slot), exact while slots migrate
// (cluster_slot_walk.hpp).
void redis_store::page(std::string_view cursor, std::size_t size, page_handler handler) {
  auto read = [self = impl_](std::vector<std::string> keys, session_page out, page_handler h) {
    self->read_sessions(std::move(keys), [out = std::move(out), h = std::move(h)](
                                             std::error_code ec, std::vector<listed_session> found) mutable {
      if (ec) return h(ec, {});
      out.sessions = std::move(found);
      h({}, std::move(out));
    });
  };
  if (impl_->client->is_cluster()) {
    unsigned from = 0;
    if (!cursor.empty()) {
      const auto [end, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), from);
      if (ec != std::errc{} || end != cursor.data() + cursor.size() || from >= detail::redis_cluster_slots)
        return defer([h = std::move(handler)]() mutable { h(error::store_failure, {}); });
    }
    detail::walk_cluster_slots(impl_->client, impl_->options.prefix, from, std::max<std::size_t>(size, 1),
                               [read, h = std::move(handler)](std::error_code ec, detail::slot_walk_step step) mutable {
                                 if (ec) return h(ec, {});
                                 session_page out;
                                 if (step.next) out.next = std::to_string(*step.next);
                                 read(std::move(step.keys), std::move(out), std::move(h));
                               });
    return;
  }
  impl_->client->execute_on(
      "redis",
      detail::resp_command({"SCAN", cursor.empty() ? std::string("0") : std::string(cursor), "MATCH",
                            impl_->options.prefix + "*", "COUNT", std::to_string(std::max<std::size_t>(size, 1))}),
      1, [read, h = std::move(handler)](std::error_code ec, redis_reply r) mutable {
        if (!ec) ec = error_of(r);
        if (!ec && (r.type != redis_reply::kind::array || r.elements.size() != 2)) ec = error::store_failure;
        if (ec) return h(ec, {});
        session_page out;
        if (r.elements[0].text != "0") out.next = r.elements[0].text;
        std::vector<std::string> keys;
        for (auto& k : r.elements[1].elements) keys.push_back(std::move(k.text));
        read(std::move(keys), std::move(out), std::move(h));
      });
}

void redis_store::sessions_of(std::string_view user, sessions_handler handler) {
  if (!has_user_index()) return store::sessions_of(user, std::move(handler));
  const std::string key = impl_->index_key(user);
  std::string wire = impl::prune_index(key, now());
  wire += detail::resp_command({"ZRANGE", key, "0", "-1"});
  impl_->client->execute(key, std::move(wire), 2, [self = impl_, key, user = std::string(user),
                                                           h = std::move(handler)](std::error_code ec, redis_reply r) mutable {
    if (!ec) ec = impl::reply_error({}, r.elements[1]);
    if (!ec && r.elements[1].type != redis_reply::kind::array) ec = error::store_failure;
    if (ec) return h(ec, {});
    std::vector<std::string> ids, keys;
    for (auto& member : r.elements[1].elements) {
      keys.push_back(self->key(member.text));
      ids.push_back(std::move(member.text));
    }
    if (ids.empty()) return h({}, {});
    self->read_sessions(std::move(keys), [self, key = std::move(key), user = std::move(user), ids = std::move(ids),
                                          h = std::move(h)](std::error_code ec, std::vector<listed_session> found) mutable {
      if (ec) return h(ec, {});
      // Ids whose session is gone (destroyed by a Node app, expired early) or is another
      // user's now leave the set.
      std::erase_if(found, [&](const listed_session& s) { return record_user(s.json) != user; });
      std::unordered_set<std::string_view> live;
      for (const auto& s : found) live.insert(s.id);
      std::vector<std::string> stale{"ZREM", key};
      for (const auto& id : ids)
        if (!live.contains(id)) stale.push_back(id);
      if (stale.size() > 2) self->run(key, detail::resp_command(stale), [](std::error_code, redis_reply) {});
      h({}, std::move(found));
    });
  });
}

void redis_store::all(all_handler handler) {
  impl_->scan_all([self = impl_, h = std::move(handler)](std::error_code ec, std::vector<std::string> keys) mutable {
    if (ec || keys.empty()) return h(ec, {});
    auto shared_keys = std::make_shared<std::vector<std::string>>(std::move(keys));
    self->for_each_key(*shared_keys, 1, [](const std::string& k) { return detail::resp_command({"GET", k}); },
                       [self, keys = shared_keys, h = std::move(h)](std::error_code ec,
                                                                    std::vector<redis_reply> values) mutable {
                         if (ec) return h(ec, {});
                         std::vector<std::pair<std::string, std::string>> out;
                         for (std::size_t i = 0; i < values.size(); ++i) {
                           if (const auto e = error_of(values[i])) return h(e, {});
                           if (values[i].type != redis_reply::kind::string) continue;  // expired meanwhile
                           if (auto json = self->parse(std::move(values[i].text)))
                             out.emplace_back(self->id_of((*keys)[i]), std::move(*json));
                         }
                         h({}, std::move(out));
                       });
  });
}

}  // namespace sessionkit
