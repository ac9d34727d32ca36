#pragma once
/// @file session.hpp
/// `req.session`: the session's data (JSON, read and written by the handler), its id and
/// cookie, and express-session's methods.

#include <sessionkit/session_cookie.hpp>
#include <sessionkit/store.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace sessionkit {

class request_driver;
class session_state;

/// Top-level keys of the session data that sessionkit itself reads and writes. They are plain
/// data to a Node app sharing the store, which keeps them as they are.
namespace session_keys {
/// Who is logged in (a string; `session::set_user`), followed by the store's user index.
inline constexpr std::string_view user = "user";
/// When the session was created or its user logged in, in ms since the epoch (timeouts, the
/// user index's "oldest").
inline constexpr std::string_view created = "_sessionkit_created";
/// When it last had a request, in ms since the epoch (rewritten when stale, not every time).
inline constexpr std::string_view seen = "_sessionkit_seen";
/// When its id was last renewed, in ms since the epoch (`options::renew_interval`).
inline constexpr std::string_view renewed = "_sessionkit_renewed";
/// In the record left under a renewed session's old id, for `options::renew_grace`: the new id.
inline constexpr std::string_view renewed_to = "_sessionkit_renewed_to";
}  // namespace session_keys

/// One HTTP session. The application reads and writes `data()` (or `operator[]`) like
/// `req.session` in Express; changes are detected by content at the end of the request.
///
/// The asynchronous methods complete exactly once, through the request's driver: inside the
/// call when the store answers at once (MemoryStore), else later on the store's completion
/// context. Await each before the next and before the handler returns (the Asio adapters'
/// `async_` forms do that for you). A session belongs to its request: it cannot be copied.
class SESSIONKIT_API session {
 public:
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// The session id (`req.session.id`).
  const std::string& id() const noexcept { return id_; }

  /// The cookie (`req.session.cookie`): max age, expiry and attributes.
  session_cookie& cookie() noexcept { return cookie_; }
  const session_cookie& cookie() const noexcept { return cookie_; }

  /// The application's keys, in insertion order. A top-level key named `cookie` is reserved
  /// for the session cookie and is not stored.
  boost::json::object& data() noexcept { return data_; }
  const boost::json::object& data() const noexcept { return data_; }

  /// `req.session[key]`, inserting `null` when absent.
  boost::json::value& operator[](std::string_view key) {
    // Looked up first: Boost.JSON's own operator[] grows the table even for a key it has.
    if (boost::json::value* v = data_.if_contains(key)) return *v;
    return data_[key];
  }

  /// The value under `key`, or nullptr.
  const boost::json::value* find(std::string_view key) const noexcept { return data_.if_contains(key); }

  /// `delete req.session[key]`, keeping the order of the other keys (Boost.JSON's own
  /// `object::erase` moves the last key into the gap, which would change the stored record).
  /// @return whether the key was there
  bool erase(std::string_view key);

  /// Records who is logged in: the top-level `"user"` key becomes `user`, and the session's
  /// creation time becomes now (its login time), so `options::absolute_timeout` and
  /// `options::max_sessions_per_user` count from the login. The store's user index follows
  /// (`engine::sessions_of`). Call it after `regenerate()` on login, as session fixation asks.
  void set_user(std::string_view user);

  /// Who is logged in: the top-level `"user"` key when it is a string, else empty.
  std::string_view user() const noexcept;

  /// Restarts the cookie's lifetime now (`touch()` / `resetMaxAge()`); does not call the store.
  void touch() { cookie_.reset_max_age(); }

  /// Saves the session now (`save(cb)`); the end of the request then saves again only if the
  /// data changes afterwards.
  void save(completion_handler handler);

  /// Replaces data and cookie with the stored record (`reload(cb)`);
  /// `error::failed_to_load_session` when the record is gone.
  void reload(completion_handler handler);

  /// Destroys the stored session and makes a new one with a new id and no data
  /// (`regenerate(cb)`). Call it on login to prevent session fixation.
  void regenerate(completion_handler handler);

  /// Gives the session a new id and keeps its data (scs's RenewToken; `regenerate()` drops the
  /// data): the record is stored under the new id now, the response sends the new cookie, and
  /// the old id keeps working for `options::renew_grace` (requests in flight with it are served
  /// this session), then it is gone. Call it when privileges change without a new login.
  void renew(completion_handler handler);

  /// Destroys the stored session; the request has no session afterwards (`destroy(cb)`).
  void destroy(completion_handler handler);

  /// The record as express-session stores it: `{"cookie":{...},...data}`.
  std::string to_json() const;

  /// The request's driver, which carries out the methods (null for a session made outside
  /// one, as in decision tests).
  request_driver* driver() const noexcept { return owner_; }

 private:
  friend class session_state;
  explicit session(request_driver* owner) : owner_(owner) {}

  request_driver* owner_;  // carries out the methods (null: they fail with `no_session`)
  std::string id_;
  session_cookie cookie_;
  boost::json::object data_;
  // Keys a loaded record had before its `cookie` (rare: Node keeps a record's order).
  std::vector<std::string> keys_before_cookie_;
  bool logged_in_now_ = false;  // set_user() was called: the next write is a login
};

}  // namespace sessionkit
