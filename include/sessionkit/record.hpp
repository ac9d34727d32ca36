#pragma once
/// @file record.hpp
/// The record codec: the one place that knows the layout of a stored session record, the JSON
/// text express-session writes (`{"cookie":{...},...data}`: the `cookie` object first unless a
/// loaded record had keys before it, then the application's keys in JavaScript's order, dates as
/// 24-character ISO strings), with its fast paths for the usual shape. The engine decodes and
/// encodes records with it; stores that must read or replace the cookie part of a record (to
/// refresh it on `touch`, or to keep it apart) use it instead of spelling the format themselves.
/// Everything else treats a record as opaque text.

#include <sessionkit/config.hpp>
#include <sessionkit/session_cookie.hpp>

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessionkit::record {

/// A record taken apart.
struct parts {
  session_cookie cookie;
  /// The application's keys (reserved ones such as `id` or `save` dropped, as express-session
  /// drops them), in the record's order.
  boost::json::object data;
  /// Keys the record had before its `cookie` (rare; Node keeps a record's order on re-save).
  std::vector<std::string> keys_before_cookie;
  /// `data_text()` of the data as stored, reserved keys included: what change detection compares
  /// against (a record carrying reserved keys counts as modified once they are dropped).
  std::string stored_data_text;
};

/// Reads a record. A missing or ill-typed `cookie`, or text that is not a JSON object, makes it
/// no session record.
/// @return false when `json` is not a session record (then `out` is unspecified)
SESSIONKIT_API bool decode(std::string_view json, parts& out);

/// `JSON.stringify` of the session data without a top-level `cookie` key: express-session's
/// change-detection snapshot, and (when the data has no array-index keys) the record's tail.
SESSIONKIT_API std::string data_text(const boost::json::object& data);

/// The record for a session, byte for byte as express-session stores it.
/// @param data_text `data_text(data)` when the caller has it already, else null
SESSIONKIT_API std::string encode(const session_cookie& cookie, const boost::json::object& data,
                                  const std::vector<std::string>& keys_before_cookie,
                                  const std::string* data_text = nullptr);

/// Hands back the text of a record a store was given and has copied what it keeps out of
/// (MemoryStore does): the next record `encode` writes on this thread reuses its buffer instead
/// of allocating. One buffer per thread, of at most 64 KiB, is kept.
SESSIONKIT_API void give_back(std::string&& record_text) noexcept;

/// The `cookie` object of a record whose first member it is (what `encode` writes).
/// @return the cookie's JSON text, or an empty optional when the record does not start with it
SESSIONKIT_API std::optional<std::string_view> leading_cookie(std::string_view json) noexcept;

/// Appends a session's cookie object as express-session stores it (`cookie.toJSON()`): keys in
/// its order (originalMaxAge, partitioned, priority, expires, secure, httpOnly, domain, path,
/// sameSite), unset optional fields left out as `JSON.stringify` leaves out `undefined`.
SESSIONKIT_API void append_cookie(std::string& out, const session_cookie& cookie);

/// Reads a stored cookie object the way express-session revives it: missing `httpOnly` is
/// true, missing `path` is `/`, `expires` an ISO or HTTP date string (or epoch ms).
/// @return false when a field has a type that cannot be a cookie's
SESSIONKIT_API bool read_cookie(const boost::json::object& stored, session_cookie& out);

/// `read_cookie` straight from the text of a cookie object in the plain form `JSON.stringify`
/// writes (no spaces or escapes, known keys once each, integers), without building JSON
/// values: the fast path for stored records. Where it answers, it agrees with `read_cookie`.
/// @return false when the text is not in that form or not a valid cookie (then `out` is
///         unchanged): use the general parser and `read_cookie`, which decides
SESSIONKIT_API bool read_plain_cookie(std::string_view text, session_cookie& out);

/// The text before a record's cookie object, for stores that keep the cookie apart and put the
/// record back together: `prefix() + cookie + tail`.
SESSIONKIT_API std::string_view prefix() noexcept;

/// Replaces the `cookie` object of a stored record with `fresh_cookie` and keeps the rest byte
/// for byte (what a store's `touch` does). Records whose first member is not `cookie` are
/// re-serialised through a full parse.
/// @return the new record, or an empty optional when `stored` is not a session record.
SESSIONKIT_API std::optional<std::string> with_cookie(std::string_view stored, std::string_view fresh_cookie);

}  // namespace sessionkit::record
