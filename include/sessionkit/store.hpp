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
  std::string json;
  std::optional<timestamp> expires;  ///< none: a browser-session cookie (no expiry of its own)
};

/// The answer to `get`: an error, or the record's JSON (none: no live session with that id).
struct get_result {
  std::error_code error;
  std::optional<std::string> json;
};

/// Completion of `get`: the record's JSON, or none when there is no live session with that id.
using get_handler = detail::unique_function<void(std::error_code, std::optional<std::string>)>;
/// Completion of set / destroy / touch / clear.
using completion_handler = detail::unique_function<void(std::error_code)>;
/// Completion of `all`: (id, JSON) pairs.
using all_handler =
    detail::unique_function<void(std::error_code, std::vector<std::pair<std::string, std::string>>)>;
/// Completion of `ids`.
using ids_handler = detail::unique_function<void(std::error_code, std::vector<std::string>)>;
/// Completion of `length`.
using length_handler = detail::unique_function<void(std::error_code, std::size_t)>;

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
  /// Removes the record under `id` (no error when there is none).
  virtual void destroy(std::string_view id, completion_handler handler) = 0;

  /// Whether `touch` is implemented; express-session calls it only then.
  virtual bool has_touch() const noexcept { return false; }
  /// Extends the life of the record under `id` to `record.expires` without rewriting the data
  /// the store holds (it may refresh the stored cookie). Default: `error::not_supported`.
  virtual void touch(std::string_view id, session_record record, completion_handler handler);

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

  // --- answers without waiting ------------------------------------------------------------
  // A store that can answer some calls at once, without I/O (one in memory), answers the `try_`
  // forms inside the call; the engine then skips the two thread hops of an asynchronous
  // completion. Returning nothing means "use the asynchronous form" (the default), and nothing
  // was done. Whatever a store answers here must be what the asynchronous form would answer.

  /// `get` answered now, or nothing.
  virtual std::optional<get_result> try_get(std::string_view id);
  /// `set` done now (then `record` may have been moved from), or nothing.
  virtual std::optional<std::error_code> try_set(std::string_view id, session_record& record);
  /// `touch` done now (then `record` may have been moved from), or nothing.
  virtual std::optional<std::error_code> try_touch(std::string_view id, session_record& record);
  /// `destroy` done now, or nothing.
  virtual std::optional<std::error_code> try_destroy(std::string_view id);

  /// Runs `fn` later, outside the current call, on the store's completion context. Used for
  /// completions that need no I/O (the default optional operations, early errors).
  virtual void defer(detail::unique_function<void()> fn) = 0;
};

}  // namespace sessionkit
