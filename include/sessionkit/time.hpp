#pragma once
/// @file time.hpp
/// Millisecond wall-clock time, as JavaScript's `Date` keeps it, and its two text forms.

#include <sessionkit/config.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sessionkit {

/// A point in time with JavaScript `Date` precision (milliseconds since the Unix epoch).
using timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

/// The limit of JavaScript's Date: ±8.64e15 ms around the epoch (years -271821 to +275760). A
/// time outside it is an Invalid Date in Node, which it can neither write nor read back.
inline constexpr long long max_js_time_ms = 8'640'000'000'000'000;

/// Whether `t` is a time JavaScript's Date can hold.
constexpr bool in_js_date_range(timestamp t) noexcept {
  return t.time_since_epoch().count() <= max_js_time_ms && t.time_since_epoch().count() >= -max_js_time_ms;
}

/// The current time, truncated to milliseconds like `Date.now()`.
SESSIONKIT_API timestamp now() noexcept;

/// Formats like `Date.prototype.toUTCString()` (IMF-fixdate, RFC 7231 section 7.1.1.1):
/// `Thu, 01 Jan 1970 00:00:00 GMT`. Milliseconds are truncated.
SESSIONKIT_API std::string format_http_date(timestamp t);

/// Formats like `Date.prototype.toISOString()`: `1970-01-01T00:00:00.000Z`, and with a sign and
/// six year digits outside 0000..9999 (`+275760-09-13T00:00:00.000Z`).
SESSIONKIT_API std::string format_iso_date(timestamp t);

/// `format_http_date` appended to `out` (no temporary string).
SESSIONKIT_API void append_http_date(std::string& out, timestamp t);
/// `format_iso_date` appended to `out` (no temporary string).
SESSIONKIT_API void append_iso_date(std::string& out, timestamp t);

/// The most characters `write_iso_date` writes (24 for years 0..9999).
inline constexpr std::size_t max_iso_date_size = 32;
/// `format_iso_date` written to `out`, which has room for `max_iso_date_size` characters.
/// @return the number of characters written
SESSIONKIT_API std::size_t write_iso_date(char* out, timestamp t);

/// Parses the forms `Date.parse` accepts that matter here: ISO 8601 as written by
/// `toISOString()` (with or without milliseconds, `Z` or a numeric offset, or a date alone) and
/// the IMF-fixdate of `toUTCString()`.
/// @return the time, or an empty optional when the text is not a valid date.
SESSIONKIT_API std::optional<timestamp> parse_date(std::string_view text) noexcept;

}  // namespace sessionkit
