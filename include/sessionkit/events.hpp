#pragma once
/// @file events.hpp
/// Session lifecycle events, for audit logs: what happened to which session (named by a hash of
/// its id, never the id), for which user, and why. Set `options::on_event`; the engine delivers
/// events on a thread of its own, in order, so a slow handler never holds up a request.

#include <sessionkit/config.hpp>
#include <sessionkit/time.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace sessionkit {

enum class session_event_kind {
  created,      ///< a new session was first stored
  loaded,       ///< a request loaded a stored session
  regenerated,  ///< `regenerate()`: the old id is gone, a new session took its place
  destroyed,    ///< `destroy()`, or `unset_session()` with `unset_action::destroy`
  expired,      ///< a session ended by a timeout, or named by a cookie but gone from the store
  renewed,      ///< `renew()` or `options::renew_interval`: the session goes on under a new id
};

/// "created", "loaded", "regenerated", "destroyed", "expired", "renewed".
SESSIONKIT_API std::string_view to_string(session_event_kind kind) noexcept;

struct session_event {
  session_event_kind kind = session_event_kind::created;
  /// `hash_session_id(id)` (of the store key, `engine::store_key(id)`, with hashed ids): the
  /// same for every event of one session, useless as a cookie.
  std::string id_hash;
  /// The session's top-level `"user"` value when it is a string (who was logged in), else "".
  std::string user;
  /// Why, in a word or two: "new", "request", "regenerate", "destroy", "unset", "idle timeout",
  /// "absolute timeout", "gone" (the store no longer had it).
  std::string reason;
  timestamp at{};
};

using event_handler = std::function<void(const session_event&)>;

/// The first 32 hex digits of the SHA-256 of a session id.
SESSIONKIT_API std::string hash_session_id(std::string_view id);

/// Delivers events to a handler on a thread of its own, in order. The queue is bounded: past
/// `capacity` waiting events new ones are dropped (and counted, and logged once) rather than
/// letting a stuck handler grow memory without end.
class SESSIONKIT_API event_dispatcher {
 public:
  explicit event_dispatcher(event_handler handler, std::size_t capacity = 65536);
  /// Delivers what is queued, then stops the thread.
  ~event_dispatcher();
  event_dispatcher(const event_dispatcher&) = delete;
  event_dispatcher& operator=(const event_dispatcher&) = delete;

  /// Queues an event (thread-safe, never blocks on the handler).
  void post(session_event event);
  /// Events dropped because the queue was full.
  std::size_t dropped() const noexcept;
  /// Waits until every event posted so far has been delivered (for tests and shutdown).
  void flush();

 private:
  struct impl;
  impl* impl_;
};

}  // namespace sessionkit
