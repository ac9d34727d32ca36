#pragma once
/// @file session_cookie.hpp
/// A session's cookie state (`req.session.cookie` in express-session), stored with the session.

#include <sessionkit/cookie.hpp>
#include <sessionkit/time.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sessionkit {

/// The cookie of one session: its lifetime and attributes. How it is stored in a session record
/// is the record codec's business (`record::append_cookie`, `record::read_cookie`).
class SESSIONKIT_API session_cookie {
 public:
  /// The lifetime the cookie was given, in milliseconds; none for a browser-session cookie.
  std::optional<long long> original_max_age;
  /// When the cookie expires; none for a browser-session cookie.
  std::optional<timestamp> expires;
  std::optional<bool> partitioned;
  std::optional<std::string> priority;
  std::optional<bool> secure;
  bool http_only = true;
  std::optional<std::string> domain;
  std::string path = "/";
  same_site_value same_site;

  /// Milliseconds left (`cookie.maxAge`): `expires - now`, negative once expired; none when
  /// there is no expiry.
  std::optional<std::chrono::milliseconds> max_age(timestamp at = now()) const;

  /// Sets the lifetime from now (`cookie.maxAge = ms`): `expires = now + ms` and
  /// `original_max_age = ms`. None makes it a browser-session cookie.
  void set_max_age(std::optional<std::chrono::milliseconds> ms, timestamp at = now());

  /// Sets the expiry (`cookie.expires = date`); `original_max_age` becomes the time left.
  void set_expires(std::optional<timestamp> when, timestamp at = now());

  /// Restarts the lifetime: `expires = now + original_max_age` (`resetMaxAge`).
  void reset_max_age(timestamp at = now());

  /// The `Set-Cookie` attributes for this cookie.
  set_cookie_options attributes() const;
};

}  // namespace sessionkit
