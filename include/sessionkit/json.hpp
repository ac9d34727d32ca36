#pragma once
/// @file json.hpp
/// JSON text exactly as Node's `JSON.stringify` writes it, so store records are byte-identical
/// to express-session's: key order kept, no whitespace, numbers in JavaScript's shortest form
/// (`1`, `1.5`, `1e+21`), only `"`, `\` and control characters escaped.

#include <sessionkit/config.hpp>

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace sessionkit {

/// Appends `JSON.stringify(v)` to `out`.
SESSIONKIT_API void stringify_to(std::string& out, const boost::json::value& v);

/// Appends `JSON.stringify(o)` to `out`.
SESSIONKIT_API void stringify_to(std::string& out, const boost::json::object& o);

/// `JSON.stringify(v)`.
SESSIONKIT_API std::string stringify(const boost::json::value& v);

/// Appends a double as JavaScript's `Number.prototype.toString()` does (`NaN`, `Infinity` are
/// written as `null`, as `JSON.stringify` does).
SESSIONKIT_API void append_js_number(std::string& out, double d);

/// Appends a JSON string literal for UTF-8 `text`, escaped as `JSON.stringify` escapes.
SESSIONKIT_API void append_json_string(std::string& out, std::string_view text);

/// Replaces the `cookie` object of a stored record (`{"cookie":{...},...}`) with `fresh_cookie`
/// and keeps the rest byte for byte (what a store's `touch` does). Records whose first member is
/// not `cookie` are re-serialised through a full parse.
/// @return the new record, or an empty optional when `stored` is not a session record.
SESSIONKIT_API std::optional<std::string> splice_record_cookie(std::string_view stored,
                                                               std::string_view fresh_cookie);

/// The `cookie` object of a record as written by `session::to_json()` (its first member).
/// @return the cookie JSON, or an empty optional when the record does not start with it.
SESSIONKIT_API std::optional<std::string_view> leading_cookie_json(std::string_view record) noexcept;

/// Parses JSON text (RFC 8259). Numbers are read exactly (the shortest round trip of the text).
/// @return the value, or an empty optional with `ec` set when the text is not valid JSON.
SESSIONKIT_API std::optional<boost::json::value> parse_json(std::string_view text,
                                                            std::error_code& ec);

}  // namespace sessionkit
