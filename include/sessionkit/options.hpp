#pragma once
/// @file options.hpp
/// The session middleware's options: the names follow C++ conventions, the meaning follows
/// express-session's options of the same name.

#include <sessionkit/cookie.hpp>
#include <sessionkit/events.hpp>
#include <sessionkit/metrics.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessionkit {

/// `cookie.secure`: unset (no `Secure`, not stored), on, off, or `auto` (resolved per new session
/// to whether the request is secure, and stored as a boolean).
enum class secure_policy { unset, on, off, automatic };

/// Options for every new session's cookie (express-session's `cookie` option).
struct cookie_options {
  std::string path = "/";  ///< `Path`; also gates which requests get a session (prefix test)
  std::optional<std::string> domain;
  bool http_only = true;
  secure_policy secure = secure_policy::unset;
  /// `SameSite`: `true` (Strict), `false`, or `"lax"`, `"strict"`, `"none"`, or `"auto"` (None on
  /// secure requests, else Lax; express-session 1.19).
  same_site_value same_site;
  /// Lifetime: `Expires` = touch time + max_age. None means a browser-session cookie.
  std::optional<std::chrono::milliseconds> max_age;
  /// An absolute expiry; like express-session it becomes a duration from the time the session
  /// is created. Prefer `max_age`.
  std::optional<timestamp> expires;
  std::optional<bool> partitioned;
  std::optional<std::string> priority;  ///< `"low"`, `"medium"` or `"high"`
};

/// What becomes of the stored session when the application drops it (`unset_session()`).
enum class unset_action { keep, destroy };

/// How requests of one session that run at the same time are kept from undoing each other's
/// writes (see README, "Concurrent requests").
enum class concurrency_mode {
  /// express-session's behaviour: each request writes back the whole session it loaded, the
  /// last writer wins (a destroyed session still stays destroyed).
  none,
  /// Requests of one session run one after another across every server sharing the store: a
  /// request takes the session's lock as it loads it and releases it with its write.
  lock,
  /// Optimistic: a save only replaces the record this request loaded; when another request
  /// changed it meanwhile, this request's own changes (top-level keys added, changed or
  /// deleted) are applied to the fresh record and the save is retried.
  merge,
};

/// How the signed session id travels between client and server.
enum class id_transport {
  cookie,             ///< the session cookie (express-session's way)
  header,             ///< a request and response header (`options::id_header`), no cookie
  cookie_and_header,  ///< both: a request may carry either (the header wins), a response sends both
};

/// What the request knows when an id is generated (express-session passes `req` to `genid`).
struct genid_context {
  std::string_view path;  ///< the request's path, without the query
  bool secure = false;    ///< whether the request counts as secure
};

/// The session options (express-session's `session(options)`).
struct options {
  /// Secrets: the first signs cookies, all of them verify (rotation). Required.
  std::vector<std::string> secrets;
  cookie_options cookie;
  /// The cookie's name (`name`, default `connect.sid`).
  std::string name = "connect.sid";
  /// Makes session ids (`genid`). Default: 24 CSPRNG bytes, base64url, 32 characters.
  std::function<std::string(const genid_context&)> genid;
  /// Trust `X-Forwarded-Proto` (`proxy`): true trusts the first value, false never does, unset
  /// defers to the HTTP adapter's own trust-proxy setting.
  std::optional<bool> proxy;
  /// Save loaded sessions even when unmodified (`resave`; express-session's default is true).
  bool resave = true;
  /// Send the cookie on every response of a loaded session, renewing `Expires` (`rolling`).
  bool rolling = false;
  /// Save and send the cookie for new sessions that were not modified (`saveUninitialized`).
  bool save_uninitialized = true;
  /// Re-sign a cookie that verified with an older secret (not the first): the response sends the
  /// same session id signed with the first secret, so an old secret can be dropped once every
  /// active client has made a request. Off by default, as in express-session (which re-signs
  /// only when it sends the cookie anyway). See README, "Rotating secrets".
  bool resign_old_secrets = false;
  /// What `unset_session()` does to the stored session (`unset`).
  unset_action unset = unset_action::keep;
  /// Where the engine counts sessions and store operations (see metrics.hpp); none: nothing is
  /// counted and nothing is timed.
  std::shared_ptr<sessionkit::metrics> metrics;
  /// Largest serialised session accepted for saving, in bytes (default 1 MiB, far more than a
  /// session normally holds; express-session has no limit); 0 means no limit. A larger session
  /// is not stored and the request fails with `error::session_too_large` (a 500).
  std::size_t max_session_bytes = std::size_t(1) << 20;
  /// Concurrency control between requests of one session (default: none, as express-session).
  /// `lock` needs a store with session locks, `merge` one with compare-and-set (MemoryStore,
  /// RedisStore and SqliteStore have both); the engine refuses the mode otherwise.
  concurrency_mode concurrency = concurrency_mode::none;
  /// `lock`: how long a request waits for a session another request holds; past it the request
  /// fails with `error::lock_timeout` (503 with Retry-After) and writes nothing.
  std::chrono::milliseconds lock_timeout{std::chrono::seconds(5)};
  /// `lock`: how long a lock lasts unless released: a server that dies holding one frees it
  /// after this. A request still running then has lost it: its write is refused
  /// (`error::lock_lost`, a 503). Longer than the slowest request.
  std::chrono::milliseconds lock_lease{std::chrono::seconds(30)};
  /// `merge`: how many times a save is tried against records changed meanwhile before the
  /// request fails with `error::record_changed` (503). Retries against a remote store are
  /// spread by a short random delay.
  unsigned merge_attempts = 32;
  /// Ends a session that has had no request for this long (OWASP's idle timeout), beside the
  /// cookie's `max_age`. Enforced when a session is loaded, from the time of its last request
  /// kept in the record (keys `_sessionkit_created` and `_sessionkit_seen`, see README
  /// "Timeouts"), so it holds across servers
  /// and restarts. The time is rewritten at most every tenth of the timeout: a session with
  /// requests less than `idle_timeout - idle_timeout / 10` apart is never ended by it. An
  /// ended session is destroyed in the store and the request gets a new session.
  std::optional<std::chrono::milliseconds> idle_timeout;
  /// Ends a session this long after it was created (a login should `regenerate()`, which
  /// creates a new one), however active it is. Enforced like `idle_timeout`.
  std::optional<std::chrono::milliseconds> absolute_timeout;
  /// Rotation: a loaded session whose id is older than this gets a new id (`session::renew()`,
  /// data kept, a new cookie) before the handler runs. The id's age is kept in the record
  /// (`_sessionkit_created`, and `_sessionkit_renewed` once renewed). None: ids change only on
  /// `regenerate()` and `renew()`.
  std::optional<std::chrono::milliseconds> renew_interval;
  /// After a renewal the old id keeps working this long (requests already in flight with it
  /// are not logged out: they are served the renewed session and get its cookie), then it is
  /// gone. Zero: the old id ends at once.
  std::chrono::milliseconds renew_grace{std::chrono::seconds(10)};
  /// After `destroy()` (or `unset_session()` with `unset_action::destroy`), send a `Set-Cookie`
  /// that clears the cookie in the browser (empty value, `Expires` in 1970, the cookie's path and
  /// domain), as Express's `res.clearCookie` does and express-session 2 will. Off by default.
  bool clear_cookie_on_destroy = false;
  /// Where the signed id travels (for APIs and mobile clients that keep no cookies: `header`).
  id_transport transport = id_transport::cookie;
  /// The header of `id_transport::header` and `cookie_and_header`: a request carries the signed
  /// id (`s:<id>.<signature>`, as in the cookie but not URL-encoded; `Bearer s:...` is accepted
  /// too, so `Authorization` works), and a response sends it whenever it would send the cookie
  /// (a new session, a regenerated one, `rolling`, ...).
  std::string id_header = "X-Session-Id";
  /// Hashed ids at rest: when set, the store never sees a session id; it keeps each session
  /// under base64url(HMAC-SHA256(id_hash_key, id)) instead (43 characters), so a leaked store
  /// dump or key listing cannot be replayed as cookies. A renewed session's old record holds
  /// its new id sealed with the old one (see `renew_grace`). Keep the key as secret as the
  /// cookie secrets; changing it ends every session. Not for stores shared with Node apps:
  /// express-session looks sessions up by the id itself. Empty (the default): ids as they are.
  std::string id_hash_key;
  /// Sessions one user may have at once (`session::set_user`); 0: no limit. A login beyond it
  /// ends that user's oldest sessions (by login time), never the one logging in. Needs a store
  /// with a user index (`store::has_user_index`: MemoryStore, RedisStore and SqliteStore).
  std::size_t max_sessions_per_user = 0;
  /// Lifecycle events (created, loaded, regenerated, destroyed, expired; see events.hpp), for
  /// audit logs. Called on a thread of the engine's own, in order, never on a request's path;
  /// none: no event is made at all.
  event_handler on_event;
};

}  // namespace sessionkit
