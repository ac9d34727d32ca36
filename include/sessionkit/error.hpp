#pragma once
/// @file error.hpp
/// Error codes reported by sessionkit (an `std::error_code` category).

#include <sessionkit/config.hpp>

#include <string>
#include <system_error>

namespace sessionkit {

/// Errors reported through `std::error_code`. Bad client input (a forged cookie, say) is not an
/// error: it simply means "no session". These codes describe store and configuration failures.
enum class error {
  store_unavailable = 1,  ///< the store could not be reached (connection refused, down, ...)
  store_timeout,          ///< the store did not answer within its command timeout
  store_failure,          ///< the store answered with an error
  invalid_record,         ///< a stored record is not a valid session (logged, treated as missing)
  failed_to_load_session, ///< `reload()` found no record for the session id
  session_too_large,      ///< the serialised session exceeds the configured size limit
  not_supported,          ///< the store does not implement this optional operation
  shut_down,              ///< the store was shut down with the operation still in flight
  no_session,             ///< a session method was called after the session was destroyed
  invalid_cookie_option,  ///< a cookie attribute cannot be serialised (bad domain, path, ...)
  store_full,             ///< the store is at its limits and takes no new session now (retry later)
  session_gone,           ///< a conditional write found the session destroyed (nothing written)
  lock_timeout,           ///< another request held the session's lock past `options::lock_timeout`
  lock_lost,              ///< the request's session lock ran out (its lease) before it ended: nothing written
  record_changed,         ///< a compare-and-set found another record (merge: retried, then reported)
};

/// The category of sessionkit's error codes (name "sessionkit").
SESSIONKIT_API const std::error_category& error_category() noexcept;

/// Makes an `std::error_code` from an `error` (found by ADL).
SESSIONKIT_API std::error_code make_error_code(error e) noexcept;

/// True for the errors that mean "the store is not usable right now" (answer 503).
SESSIONKIT_API bool is_unavailable(std::error_code ec) noexcept;

}  // namespace sessionkit

template <>
struct std::is_error_code_enum<sessionkit::error> : std::true_type {};
