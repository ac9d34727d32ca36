#pragma once
/// @file store.hpp
/// The session store contract (express-session's Store): get, set and destroy are required,
/// touch is recommended, all / ids / length / clear are optional.

#include <sessionkit/detail/unique_function.hpp>
#include <sessionkit/error.hpp>
#include <sessionkit/time.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace sessionkit {

/// A session as a store keeps it: the JSON record express-session writes
/// (`{"cookie":{...},...data}`) and the cookie's expiry, for stores that expire records.
struct session_record {
  session_record() = default;
  session_record(std::string record_json, std::optional<timestamp> record_expires, std::string record_user = {})
      : json(std::move(record_json)), expires(record_expires), user(std::move(record_user)),
        cookie_expires(record_expires) {}

  std::string json;
  /// When the store may forget the record: the cookie's expiry, or sooner when a timeout ends the
  /// session sooner (`options::idle_timeout`, `absolute_timeout`). None: a browser-session
  /// cookie (no expiry of its own; stores apply their own lifetime).
  std::optional<timestamp> expires;
  /// Who is logged in to the session (its data's top-level `"user"` string, see
  /// `session::set_user`); empty: nobody. Stores with a user index (`store::has_user_index`)
  /// keep user -> sessions from it.
  std::string user;
  /// For a store whose user index lives apart from the records (Redis): true when this write
  /// leaves the session's index entry good as it is (the same user, and the entry outlives the
  /// record), so the store may skip it. False (the default): keep the entry right now.
  bool index_current = false;
  /// When the index entry is written: how long past the record's expiry it is to live, so that
  /// the writes marked `index_current` until the next refresh stay covered.
  std::chrono::milliseconds index_slack{0};
  /// The `expires` of the record's own cookie object (what `json` says), for a store that keeps
  /// the cookie apart (MemoryStore's shared cookie templates); the constructor makes it
  /// `expires`, and the engine sets it when a timeout makes `expires` sooner. A wrong value only
  /// costs such a store its fast path.
  std::optional<timestamp> cookie_expires;
};

/// The answer to `get`: an error, or the record's JSON (none: no live session with that id).
struct get_result {
  std::error_code error;
  std::optional<std::string> json;
};

/// When a `set` may write (destroy is final: a session destroyed by one request is not brought
/// back by another request's save; see README, "Concurrent requests").
enum class write_condition {
  always,      ///< insert or replace (express-session's `set`)
  if_present,  ///< replace a live record only (saving a session that was loaded)
  if_absent,   ///< insert only where no live record is (saving a new session)
};

/// The expiry a store gives a record: the cookie's, or `at + ttl` for a browser-session cookie.
inline timestamp expiry_of(const session_record& record, timestamp at, std::chrono::milliseconds ttl) {
  return record.expires ? *record.expires : at + ttl;
}

/// A request's claim on a session's lock (`concurrency_mode::lock`).
struct lock_claim {
  std::string_view owner;           ///< the request's random token: only it may write and release
  std::chrono::milliseconds lease;  ///< the lock frees itself this long after it was taken
};

/// The answer to `lock_and_get`.
struct lock_result {
  std::error_code error;
  bool acquired = false;
  std::optional<std::string> json;  ///< when acquired: the record (none: no live session)
  /// When not acquired: how long the holder's lease has left, if the store knows (a hint for
  /// when to try again; zero: unknown).
  std::chrono::milliseconds held_for{0};
};

/// What `write_and_unlock` does to the session before it releases the lock.
struct locked_write {
  enum class kind { none, set, touch, destroy };
  kind what = kind::none;
  session_record record;                                ///< set and touch
  write_condition condition = write_condition::always;  ///< set
};

/// The answer to `compare_and_set`.
struct compare_and_set_result {
  /// none: written; `error::session_gone`: no live record; `error::record_changed`: another
  /// record is stored (`current`); or the store's error.
  std::error_code error;
  std::optional<std::string> current;  ///< with `record_changed`: the record stored now
};

/// Completion of `get`: the record's JSON, or none when there is no live session with that id.
using get_handler = detail::unique_function<void(std::error_code, std::optional<std::string>)>;
/// One session as `store::page` lists it.
struct listed_session {
  std::string id;
  std::string json;
  std::optional<timestamp> expires;  ///< when the store forgets it, when the store knows
};

/// One page of a walk over the store (`store::page`).
struct session_page {
  std::vector<listed_session> sessions;
  std::string next;  ///< the cursor of the next page; empty: the walk is over
};

/// Completion of `page`.
using page_handler = detail::unique_function<void(std::error_code, session_page)>;
/// Completion of `sessions_of`.
using sessions_handler = detail::unique_function<void(std::error_code, std::vector<listed_session>)>;

/// Completion of `lock_and_get`.
using lock_handler = detail::unique_function<void(lock_result)>;
/// Completion of `compare_and_set`.
using compare_and_set_handler = detail::unique_function<void(compare_and_set_result)>;
/// Completion of set / destroy / touch / clear.
using completion_handler = detail::unique_function<void(std::error_code)>;
/// Completion of `all`: (id, JSON) pairs.
using all_handler =
    detail::unique_function<void(std::error_code, std::vector<std::pair<std::string, std::string>>)>;
/// Completion of `ids`.
using ids_handler = detail::unique_function<void(std::error_code, std::vector<std::string>)>;
/// Completion of `length`.
using length_handler = detail::unique_function<void(std::error_code, std::size_t)>;

/// The operations of a store whose data is in this process, answered inside the call (no I/O,
/// no waiting). Each answer must be what the asynchronous form would deliver; the conformance
/// suite checks that.
class SESSIONKIT_API immediate_store {
 public:
  virtual get_result get_now(std::string_view id) = 0;
  /// `get_now` into `buffer` (its capacity reused, so a store that can write there allocates
  /// nothing per read); `found` says whether there is a record (then `buffer` holds it).
  /// Default: `get_now`, moved into `buffer`.
  virtual std::error_code get_into_now(std::string_view id, std::string& buffer, bool& found);
  /// `set`, or `set_if` with `condition` (`error::session_gone` when it did not hold).
  virtual std::error_code set_now(std::string_view id, session_record record,
                                  write_condition condition = write_condition::always) = 0;
  virtual std::error_code touch_now(std::string_view id, session_record record) = 0;
  virtual std::error_code destroy_now(std::string_view id) = 0;
  /// The lock capability (see `store::has_locks`); default: `error::not_supported`.
  virtual lock_result lock_and_get_now(std::string_view id, lock_claim claim);
  virtual std::error_code write_and_unlock_now(std::string_view id, std::string_view owner, locked_write write);
  /// The compare-and-set capability (see `store::has_compare_and_set`); default: `not_supported`.
  virtual compare_and_set_result compare_and_set_now(std::string_view id, std::string_view expected,
                                                     session_record record);
  /// The user index (see `store::has_user_index`); default: `error::not_supported`.
  virtual std::error_code sessions_of_now(std::string_view user, std::vector<listed_session>& out);

 protected:
  ~immediate_store() = default;
};

/// Base class of every store.
///
/// Rules every store keeps (the conformance suite checks them):
/// - each operation completes exactly once, also when the store shuts down with it in flight
///   (`error::shut_down`), and never inside the initiating call;
/// - completions may run on any thread; the store is safe to call from several threads;
/// - `get` never returns a session past its expiry, and reports a missing id as no record, not
///   as an error; errors mean the store could not answer (`error::store_unavailable`, ...).
class SESSIONKIT_API store {
 public:
  virtual ~store();

  /// Loads the record stored under `id`.
  virtual void get(std::string_view id, get_handler handler) = 0;
  /// Stores `record` under `id`, replacing any previous record.
  virtual void set(std::string_view id, session_record record, completion_handler handler) = 0;
  /// Whether `set_if` honours its condition (MemoryStore, RedisStore and SqliteStore do). The
  /// request driver uses it so that a destroyed session stays destroyed; without it, writes are
  /// unconditional, as in express-session.
  virtual bool has_conditional_set() const noexcept { return false; }
  /// `set` when `condition` holds, atomically with the check; otherwise nothing is written and
  /// the completion gets `error::session_gone`. Default: `set` (unconditional).
  virtual void set_if(std::string_view id, session_record record, write_condition condition,
                      completion_handler handler);

  /// Removes the record under `id` (no error when there is none).
  virtual void destroy(std::string_view id, completion_handler handler) = 0;

  /// Whether `touch` is implemented; express-session calls it only then.
  virtual bool has_touch() const noexcept { return false; }
  /// Extends the life of the record under `id` to `record.expires` without rewriting the data
  /// the store holds (it may refresh the stored cookie). Default: `error::not_supported`.
  virtual void touch(std::string_view id, session_record record, completion_handler handler);

  /// @name Session locks (optional; `concurrency_mode::lock` needs them)
  /// A lock is a per-session value apart from the session's record (a Node app sharing the
  /// store never sees it), held by one owner token until released or until its lease runs out.
  /// @{
  virtual bool has_locks() const noexcept { return false; }
  /// One attempt, in one step: takes the lock of `id` for `claim.owner` when no live lock is
  /// there, and then loads the record. Not acquired is not an error (`acquired` false; the
  /// caller waits and tries again). Default: `error::not_supported`.
  virtual void lock_and_get(std::string_view id, lock_claim claim, lock_handler handler);
  /// In one step: while `owner` still holds the lock of `id`, does `write` and releases the lock.
  /// When it does not (its lease ran out): a `set` is refused with `error::lock_lost` (nothing
  /// written), while `none`, `touch` and `destroy` (which cannot undo another request's data)
  /// are done. A conditional set that finds its condition false completes with
  /// `error::session_gone` and releases the lock. Default: `error::not_supported`.
  virtual void write_and_unlock(std::string_view id, std::string_view owner, locked_write write,
                                completion_handler handler);
  /// Runs `fn` after `delay` on the store's completion context (lock waits use it). Stores that
  /// have locks implement it; the default runs `fn` through `defer`, without the delay.
  virtual void defer_for(std::chrono::milliseconds delay, detail::unique_function<void()> fn);
  /// @}

  /// @name Compare-and-set (optional; `concurrency_mode::merge` needs it)
  /// @{
  virtual bool has_compare_and_set() const noexcept { return false; }
  /// In one step: replaces the live record of `id` with `record` only when it is byte for byte
  /// `expected` (the text `get` gave, or the last record written). Default: `not_supported`.
  virtual void compare_and_set(std::string_view id, std::string_view expected, session_record record,
                               compare_and_set_handler handler);
  /// @}

  /// @name The user index (optional; `engine::sessions_of`, `engine::destroy_all_of` and
  /// `options::max_sessions_per_user` need it)
  /// The store keeps, beside the records, which sessions each user has (from
  /// `session_record::user` of every write), kept right by writes, destroys and expiry, so
  /// finding a user's sessions costs that user's sessions, never a walk over all of them.
  /// @{
  virtual bool has_user_index() const noexcept { return false; }
  /// The live sessions last written with `user`, in no particular order. A session written by
  /// something that keeps no index (a Node app) is not found. Default: `error::not_supported`.
  virtual void sessions_of(std::string_view user, sessions_handler handler);
  /// @}

  /// Whether the store can take requests now (express-session's store readiness). While false,
  /// requests that need a session fail fast with `error::store_unavailable`.
  virtual bool ready() const noexcept { return true; }

  /// Every live session. Default: `error::not_supported`.
  virtual void all(all_handler handler);
  /// Every live session id. Default: `error::not_supported`.
  virtual void ids(ids_handler handler);
  /// The number of live sessions. Default: `error::not_supported`.
  virtual void length(length_handler handler);
  /// Removes every session. Default: `error::not_supported`.
  virtual void clear(completion_handler handler);
  /// Walks the live sessions a page at a time, so a tool's memory stays bounded however many
  /// there are: start with an empty `cursor`, pass each page's `next` until it is empty. About
  /// `size` sessions per page; every session live during the whole walk appears at least once
  /// (Redis's SCAN may give one twice), in no particular order. Default: `error::not_supported`.
  virtual void page(std::string_view cursor, std::size_t size, page_handler handler);

  /// Whether a completion may go straight on into its caller's continuation (an Asio adapter
  /// then resumes the request inside the completion when it runs on the request's executor,
  /// instead of queueing it): true only for a store whose completions run on the caller's event
  /// loop with no lock held and that may be called again from inside them (RedisStore: its
  /// connection's strand). Default false: completions are posted.
  virtual bool continuations_may_run_inline() const noexcept { return false; }

  /// The synchronous side of a store whose data is in this process, or null (the default).
  /// The request driver uses it instead of the asynchronous forms, so a request on such a store
  /// takes no thread hop.
  virtual immediate_store* immediate() noexcept { return nullptr; }

  /// Shuts the store down: operations in flight complete with `error::shut_down` (or their
  /// result, if they finished first), timers, threads and connections stop so the executor can
  /// run out of work, and a store that needs them fails later calls with `error::shut_down` (an
  /// in-process store such as MemoryStore keeps answering). Idempotent, thread-safe. The
  /// default does nothing (a store with nothing to stop). Call it once the server has answered
  /// its last request (a request still in flight would fail with a 503), and let the executor
  /// run what it posts (the examples' `close_store`).
  virtual void shutdown() {}

  /// Runs `fn` later, outside the current call, on the store's completion context. Used for
  /// completions that need no I/O (the default optional operations, early errors).
  virtual void defer(detail::unique_function<void()> fn) = 0;
};

}  // namespace sessionkit
