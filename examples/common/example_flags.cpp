#include "example_flags.hpp"

#include <sessionkit/log.hpp>

#include <charconv>
#include <cstdio>
#include <limits>

namespace sessionkit::examples {
namespace {

bool parse_bool(const std::string& flag, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  throw flag_error(flag + ": expected true or false, got '" + v + "'");
}

template <class Int>
Int parse_int(const std::string& flag, const std::string& v, Int min, Int max) {
  long long n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || ptr != v.data() + v.size() || n < (long long)min || n > (long long)max)
    throw flag_error(flag + ": expected a whole number from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", got '" + v + "'");
  return Int(n);
}

}  // namespace

example_flags default_flags() {
  example_flags f;
  f.session.secrets = {"Rs89I67YEA55cLMgi0t6oyr8568e6KtD"};
  f.session.resave = false;
  f.session.save_uninitialized = true;
  return f;
}

example_flags parse_flags(const std::vector<std::string>& args) {
  sessionkit::redis_tls tls;  // applied to the endpoint at the end, whatever the flags' order
  example_flags f = default_flags();
  bool secrets_given = false;
  bool hash_ids = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    // A value is required: from --flag=value or the next argument.
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) throw flag_error(flag + ": missing value");
      return args[++i];
    };
    // A boolean may stand alone (true) or take true/false.
    auto boolean = [&]() -> bool {
      if (inline_value) return parse_bool(flag, *inline_value);
      if (i + 1 < args.size() && (args[i + 1] == "true" || args[i + 1] == "false"))
        return parse_bool(flag, args[++i]);
      return true;
    };
    auto& s = f.session;
    if (flag == "--help" || flag == "-h") f.help = true;
    else if (flag == "--host") f.host = value();
    else if (flag == "--port") f.port = parse_int<unsigned short>(flag, value(), 0, 65535);
    else if (flag == "--threads") f.threads = parse_int<unsigned>(flag, value(), 1, 1024);
    else if (flag == "--store") {
      f.store = value();
      if (is_redis_url(f.store)) {
        try {
          f.redis.endpoint = parse_redis_url(f.store);
        } catch (const std::invalid_argument& e) {
          throw flag_error(std::string("--store: ") + e.what());
        }
      } else if (f.store.rfind("sqlite:", 0) == 0) {
        try {
          f.sqlite = parse_sqlite_url(f.store);
        } catch (const std::invalid_argument& e) {
          throw flag_error(std::string("--store: ") + e.what());
        }
      } else if (f.store != "memory") {
        throw flag_error("--store: '" + sessionkit::redact_url(f.store) +
                         "' is not a store; use memory, redis://HOST:PORT, rediss://HOST:PORT or sqlite:PATH");
      }
    } else if (flag == "--secret") {
      if (!secrets_given) s.secrets.clear();
      secrets_given = true;
      f.demo_secret = false;
      s.secrets.push_back(value());
      if (s.secrets.back().empty()) throw flag_error("--secret: must not be empty");
    } else if (flag == "--name") {
      s.name = value();
      if (!is_valid_cookie_name(s.name)) throw flag_error("--name: '" + s.name + "' is not a valid cookie name");
    } else if (flag == "--max-age") {
      s.cookie.max_age = std::chrono::milliseconds(
          parse_int<long long>(flag, value(), 0, std::numeric_limits<long long>::max() / 2));
    } else if (flag == "--rolling") s.rolling = boolean();
    else if (flag == "--resign-old-secrets") s.resign_old_secrets = boolean();
    else if (flag == "--metrics") s.metrics = boolean() ? std::make_shared<sessionkit::metrics>() : nullptr;
    else if (flag == "--log-events") {
      if (boolean()) {
        // An audit line per lifecycle event, on the engine's event thread.
        s.on_event = [](const session_event& e) {
          std::fprintf(stderr, "session event: %s id=%s user=%s reason=%s\n", std::string(to_string(e.kind)).c_str(),
                       e.id_hash.c_str(), e.user.empty() ? "-" : e.user.c_str(), e.reason.c_str());
        };
      } else {
        s.on_event = nullptr;
      }
    }
    else if (flag == "--resave") s.resave = boolean();
    else if (flag == "--save-uninitialized") s.save_uninitialized = boolean();
    else if (flag == "--http-only") s.cookie.http_only = boolean();
    else if (flag == "--partitioned") s.cookie.partitioned = boolean();
    else if (flag == "--secure") {
      const std::string v = value();
      if (v == "true") s.cookie.secure = secure_policy::on;
      else if (v == "false") s.cookie.secure = secure_policy::off;
      else if (v == "auto") s.cookie.secure = secure_policy::automatic;
      else throw flag_error("--secure: expected true, false or auto, got '" + v + "'");
    } else if (flag == "--same-site") {
      const std::string v = value();
      if (v == "true") s.cookie.same_site = true;
      else if (v == "false") s.cookie.same_site = false;
      else if (v == "lax" || v == "strict" || v == "none" || v == "auto") s.cookie.same_site = v;
      else throw flag_error("--same-site: expected lax, strict, none, auto, true or false, got '" + v + "'");
    } else if (flag == "--priority") {
      const std::string v = value();
      if (v != "low" && v != "medium" && v != "high")
        throw flag_error("--priority: expected low, medium or high, got '" + v + "'");
      s.cookie.priority = v;
    } else if (flag == "--path") s.cookie.path = value();
    else if (flag == "--domain") s.cookie.domain = value();
    else if (flag == "--proxy") s.proxy = parse_bool(flag, value());
    else if (flag == "--trust-proxy") f.trust_proxy = boolean();
    else if (flag == "--max-connections")
      f.max_connections = parse_int<std::size_t>(flag, value(), 0, 1'000'000);
    else if (flag == "--read-timeout")
      f.read_timeout = std::chrono::milliseconds(parse_int<long long>(flag, value(), 1, 3600000));
    else if (flag == "--unset") {
      const std::string v = value();
      if (v == "keep") s.unset = unset_action::keep;
      else if (v == "destroy") s.unset = unset_action::destroy;
      else throw flag_error("--unset: expected keep or destroy, got '" + v + "'");
    } else if (flag == "--memory-max-sessions") {
      f.memory.max_sessions = parse_int<std::size_t>(flag, value(), 0, std::size_t(1) << 40);
    } else if (flag == "--memory-max-bytes") {
      f.memory.max_bytes = parse_int<std::size_t>(flag, value(), 0, std::size_t(1) << 50);
    } else if (flag == "--concurrency") {
      const std::string v = value();
      if (v == "none") s.concurrency = concurrency_mode::none;
      else if (v == "lock") s.concurrency = concurrency_mode::lock;
      else if (v == "merge") s.concurrency = concurrency_mode::merge;
      else throw flag_error("--concurrency: expected none, lock or merge, got '" + v + "'");
    } else if (flag == "--lock-timeout") {
      s.lock_timeout = std::chrono::milliseconds(parse_int<long long>(flag, value(), 0, 600000));
    } else if (flag == "--lock-lease") {
      s.lock_lease = std::chrono::milliseconds(parse_int<long long>(flag, value(), 1, 86400000));
    } else if (flag == "--idle-timeout") {
      s.idle_timeout = std::chrono::milliseconds(parse_int<long long>(flag, value(), 1, 315360000000LL));
    } else if (flag == "--absolute-timeout") {
      s.absolute_timeout = std::chrono::milliseconds(parse_int<long long>(flag, value(), 1, 315360000000LL));
    } else if (flag == "--id-header") {
      s.id_header = value();
      if (s.transport == id_transport::cookie) s.transport = id_transport::cookie_and_header;
    } else if (flag == "--id-transport") {
      const std::string v = value();
      if (v == "cookie") s.transport = id_transport::cookie;
      else if (v == "header") s.transport = id_transport::header;
      else if (v == "both") s.transport = id_transport::cookie_and_header;
      else throw flag_error("--id-transport: expected cookie, header or both, got '" + v + "'");
    } else if (flag == "--renew-interval") {
      s.renew_interval = std::chrono::milliseconds(parse_int<long long>(flag, value(), 1, 315360000000LL));
    } else if (flag == "--renew-grace") {
      s.renew_grace = std::chrono::milliseconds(parse_int<long long>(flag, value(), 0, 86400000));
    } else if (flag == "--hash-ids") {
      hash_ids = boolean();
    } else if (flag == "--max-sessions-per-user") {
      s.max_sessions_per_user = parse_int<std::size_t>(flag, value(), 0, 1'000'000);
    } else if (flag == "--clear-cookie-on-destroy") {
      s.clear_cookie_on_destroy = boolean();
    } else if (flag == "--max-session-bytes") {
      s.max_session_bytes = parse_int<std::size_t>(flag, value(), 0, std::size_t(1) << 40);
    } else if (flag == "--redis-tls-ca") {
      tls.ca_file = value();
    } else if (flag == "--redis-tls-cert") {
      tls.cert_file = value();
    } else if (flag == "--redis-tls-key") {
      tls.key_file = value();
    } else if (flag == "--redis-tls-server-name") {
      tls.server_name = value();
    } else if (flag == "--redis-wait-replicas") {
      f.redis.wait_replicas = parse_int<unsigned>(flag, value(), 0, 100);
    } else if (flag == "--redis-wait-timeout") {
      f.redis.wait_timeout = std::chrono::milliseconds(parse_int<long long>(flag, value(), 1, 600000));
    } else if (flag == "--redis-prefix") {
      f.redis.prefix = value();
    } else if (flag == "--redis-ttl") {
      f.redis.ttl_seconds = parse_int<long long>(flag, value(), 1, 1LL << 40);
    } else if (flag == "--redis-connect-timeout") {
      f.redis.connect_timeout = std::chrono::milliseconds(parse_int<long long>(flag, value(), 1, 600000));
    } else if (flag == "--redis-command-timeout") {
      f.redis.command_timeout = std::chrono::milliseconds(parse_int<long long>(flag, value(), 1, 600000));
    } else if (flag == "--redis-disable-touch") {
      f.redis.disable_touch = boolean();
    } else if (flag == "--redis-disable-ttl") {
      f.redis.disable_ttl = boolean();
    } else if (flag == "--prune-interval") {
      f.prune_interval = std::chrono::milliseconds(parse_int<long long>(flag, value(), 1, 86400000));
      f.sqlite.prune_interval = f.prune_interval;
    } else {
      throw flag_error("unknown flag '" + args[i] + "' (see --help)");
    }
  }
  // The example keys the id hash with its first secret (a key of its own is better: changing it
  // ends every session, and the secrets rotate).
  if (hash_ids) f.session.id_hash_key = "sessionkit id hashing:" + f.session.secrets.front();
  if (!tls.ca_file.empty() || !tls.cert_file.empty() || !tls.key_file.empty() || !tls.server_name.empty()) {
    if (!f.redis.endpoint.tls.enabled)
      throw flag_error("--redis-tls-*: the store is not a rediss://, rediss-sentinel:// or rediss-cluster:// URL (TLS is asked "
                       "for by the URL)");
    if (tls.cert_file.empty() != tls.key_file.empty())
      throw flag_error("--redis-tls-cert and --redis-tls-key go together");
    tls.enabled = true;
    f.redis.endpoint.tls = tls;
  }
  return f;
}

std::string usage(const std::string& program) {
  return "Usage: " + program + R"( [flags]

The seed app: GET /memory-store-counter (also /redis-store-counter, /radis-store-counter,
/sqlite-store-counter)
answers "count is N" using the store chosen with --store; GET /session-destroy ends the session;
GET /session-read reads the count; GET /session-data shows the session, POST /session-data
merges a JSON object's keys into it; the Beast server also has GET /session-hold?ms=N (the
counter, answered N ms after the session was loaded).
Listens on 127.0.0.1:3000 by default.

Server:
  --host ADDRESS            address to listen on (default 127.0.0.1)
  --port N                  port (default 3000; 0 picks a free port)
  --threads N               I/O threads (default: one per core)
  --store memory|URL        session store: memory (default), redis://[user:password@]host:port[/db]
                            or unix:/path/to/redis.sock[?db=N&password=P], or sqlite:PATH
                            or rediss://... for TLS (the server's certificate is verified), or
                            redis-sentinel://host:port[,host:port...]/MASTER[?db=N&sentinel_password=P]
                            (rediss-sentinel://... : TLS to the sentinels and the master), or
                            redis-cluster://host:port[,host:port...][?refresh_ms=N] (Redis Cluster;
                            rediss-cluster://... through TLS)
  --redis-tls-ca FILE       rediss: CA certificates (PEM) to verify Redis (default: the system's)
  --redis-tls-cert FILE, --redis-tls-key FILE   rediss: client certificate and key (mutual TLS)
  --redis-tls-server-name N rediss: the name to verify and send as SNI (default: the URL's host)
  --redis-wait-replicas N   a session write is acknowledged only once N replicas have it (WAIT);
                            else the request gets 503 (default 0: no waiting)
  --redis-wait-timeout MS   how long a write waits for them (default 500; below the command timeout)
  --redis-prefix P          Redis key prefix (default sess:)
  --redis-ttl SECONDS       TTL of sessions without a cookie expiry (default 86400)
  --redis-connect-timeout MS, --redis-command-timeout MS   (default 2000 each)
  --redis-disable-touch [BOOL], --redis-disable-ttl [BOOL]
  --trust-proxy [BOOL]      treat X-Forwarded-Proto: https as secure (Express's trust proxy)
  --read-timeout MS         time to receive a whole request / keep an idle connection (default 30000)
  --max-connections N       Beast and cpp-httplib servers: connections open at once; more get 503
                            (default 1024; 0: no limit)
  --prune-interval MS       how often MemoryStore / SqliteStore remove expired sessions (default 60000)

Session (express-session's options):
  --secret S                signing secret; repeat for rotation, the first one signs
  --resign-old-secrets [BOOL]  re-sign cookies made with a later --secret (default false)
  --metrics [BOOL]          count sessions and store operations; GET /metrics serves them
  --log-events [BOOL]       an audit line on stderr per session event (created, loaded,
                            regenerated, destroyed, expired: id hash, user, reason)
  --name NAME               cookie name (default connect.sid)
  --max-age MS              cookie lifetime in ms (default: browser-session cookie)
  --rolling [BOOL]          send the cookie on every response (default false)
  --resave [BOOL]           save unmodified sessions (default false here)
  --save-uninitialized [BOOL]  save new unmodified sessions (default true)
  --secure true|false|auto  Secure attribute (default unset)
  --same-site lax|strict|none|auto|true|false   SameSite attribute (default unset)
  --http-only [BOOL]        HttpOnly attribute (default true)
  --partitioned [BOOL]      Partitioned attribute
  --priority low|medium|high  Priority attribute
  --path PATH               cookie path and session path prefix (default /)
  --domain DOMAIN           Domain attribute
  --proxy true|false        trust X-Forwarded-Proto for secure cookies (default: --trust-proxy)
  --unset keep|destroy      what dropping req.session does (default keep)
  --concurrency none|lock|merge  concurrent requests of one session (default none: last writer
                            wins, as express-session); lock: one after another across servers;
                            merge: each request's own changed keys are kept
  --lock-timeout MS         lock: longest wait for a session's lock, then 503 (default 5000)
  --lock-lease MS           lock: a lock not released frees itself after this (default 30000)
  --idle-timeout MS         end a session after MS with no request (kept in the record; default: none)
  --absolute-timeout MS     end a session MS after it was created, however active (default: none)
  --id-header NAME          also take and send the signed id in this header (X-Session-Id, or
                            Authorization with "Bearer s:..."); implies --id-transport both
  --id-transport cookie|header|both   where the signed id travels (default cookie)
  --renew-interval MS       give a session a new id (data kept) when its id is MS old (default: never)
  --renew-grace MS          a renewed session's old id keeps working this long (default 10000)
  --hash-ids [BOOL]         the store keeps a keyed hash of each id, never the id (not with Node
                            apps sharing the store; default false)
  --max-sessions-per-user N  a login beyond N sessions of one user ends that user's oldest
                            (default 0: no limit)
  --clear-cookie-on-destroy [BOOL]  after a destroy, a Set-Cookie that clears the cookie (default false)
  --max-session-bytes N     refuse to store sessions larger than N bytes (default 1048576; 0: no limit)
  --memory-max-sessions N   memory store: sessions held at most (default 1000000; 0: no limit)
  --memory-max-bytes N      memory store: record bytes held at most (default 268435456; 0: no limit)
  --help                    this text
)";
}

}  // namespace sessionkit::examples
