#pragma once
/// @file json.hpp
/// JSON text exactly as Node's `JSON.stringify` writes it, so store records are byte-identical
/// to express-session's: key order kept, no whitespace, numbers in JavaScript's shortest form
/// (`1`, `1.5`, `1e+21`), only `"`, `\` and control characters escaped.

#include <sessionkit/config.hpp>

#include <boost/json/value.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace sessionkit {

/// True for keys JavaScript treats as array indices ("0".."4294967294" in canonical form):
/// objects list them first, in ascending order, whatever order they were added in.
SESSIONKIT_API bool is_array_index(std::string_view key) noexcept;

/// Appends `JSON.stringify(v)` to `out`. Objects keep insertion order, except that array-index
/// keys come first in ascending order, as in JavaScript.
SESSIONKIT_API void stringify_to(std::string& out, const boost::json::value& v);

/// Calls `f(key, value)` for each member in JavaScript's order (array indices first, ascending).
SESSIONKIT_API void for_each_member_js_order(
    const boost::json::object& o, const std::function<void(std::string_view, const boost::json::value&)>& f);

/// Appends `JSON.stringify(o)` to `out`.
SESSIONKIT_API void stringify_to(std::string& out, const boost::json::object& o);

/// Appends `"key":JSON.stringify(v)` to an object being written, with a `,` unless `first`
/// (which it then clears).
SESSIONKIT_API void append_json_member(std::string& out, bool& first, std::string_view key,
                                       const boost::json::value& v);

/// `JSON.stringify(v)`.
SESSIONKIT_API std::string stringify(const boost::json::value& v);

/// Appends a double as JavaScript's `Number.prototype.toString()` does (`NaN`, `Infinity` are
/// written as `null`, as `JSON.stringify` does).
SESSIONKIT_API void append_js_number(std::string& out, double d);

/// Appends a JSON string literal for UTF-8 `text`, escaped as `JSON.stringify` escapes. A lone
/// UTF-16 surrogate (kept as its 3-byte WTF-8 form, see `parse_json`) is written `\udxxx`.
SESSIONKIT_API void append_json_string(std::string& out, std::string_view text);

/// Parses JSON text (RFC 8259) as JavaScript's `JSON.parse` reads what Node stored: numbers exactly
/// (the shortest round trip of the text), lone surrogate escapes such as `\ud800` kept (as WTF-8
/// bytes, written back as the same escape), and invalid UTF-8 bytes read as U+FFFD, as Node's
/// UTF-8 decoding does.
/// @return the value, or an empty optional with `ec` set when the text is not valid JSON.
SESSIONKIT_API std::optional<boost::json::value> parse_json(std::string_view text,
                                                            std::error_code& ec);

}  // namespace sessionkit
