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

class session_context;

/// One HTTP session. The application reads and writes `data()` (or `operator[]`) like
/// `req.session` in Express; changes are detected by content at the end of the request.
///
/// The asynchronous methods complete exactly once. Await each before the next and before the
/// handler returns (the Asio adapters' `async_` forms do that for you).
class SESSIONKIT_API session {
 public:
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

  /// Destroys the stored session; the request has no session afterwards (`destroy(cb)`).
  void destroy(completion_handler handler);

  /// The record as express-session stores it: `{"cookie":{...},...data}`.
  std::string to_json() const;

 private:
  // With the data's JSON already built (the change-detection hash), the usual record is the
  // cookie followed by that text.
  std::string to_json(const std::string* data_json) const;

 public:

 private:
  friend class session_context;
  session(session_context* owner, std::string id) : owner_(owner), id_(std::move(id)) {}

  session_context* owner_;
  std::string id_;
  session_cookie cookie_;
  boost::json::object data_;
  // Keys a loaded record had before its `cookie` (rare: Node keeps a record's order).
  std::vector<std::string> keys_before_cookie_;
};

}  // namespace sessionkit
