#pragma once
/// @file cookie.hpp
/// Cookie header parsing and `Set-Cookie` serialisation (RFC 6265), matching the jshttp `cookie`
/// package 0.7.2 that express-session uses, so both sides read and write the same bytes.

#include <sessionkit/config.hpp>
#include <sessionkit/time.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sessionkit {

/// One `name=value` pair of a `Cookie` request header, value already decoded.
struct cookie_pair {
  std::string name;
  std::string value;
  friend bool operator==(const cookie_pair&, const cookie_pair&) = default;
};

/// Parses a `Cookie` header (RFC 6265 section 5.4) the way `cookie.parse` does: pairs split on
/// `;`, spaces and tabs trimmed, one pair of surrounding double quotes stripped, values
/// percent-decoded only when they contain `%` (kept raw when decoding fails), and the first
/// occurrence of a name wins. Segments without `=` are skipped.
/// @return the pairs in header order, duplicates removed.
SESSIONKIT_API std::vector<cookie_pair> parse_cookie_header(std::string_view header);

/// Finds the first cookie called `name` in a `Cookie` header, with the same rules as
/// `parse_cookie_header` but without building the whole list.
/// @return the decoded value, or an empty optional when there is no such cookie.
SESSIONKIT_API std::optional<std::string> find_cookie(std::string_view header,
                                                      std::string_view name);

/// `find_cookie` into the caller's `value` (its capacity is reused).
/// @return whether there is such a cookie (`value` is unspecified when not)
SESSIONKIT_API bool find_cookie(std::string_view header, std::string_view name, std::string& value);

/// `decodeURIComponent`: every `%XX` decoded; the decoded bytes must be well-formed UTF-8.
/// @return the decoded text, or an empty optional when JavaScript would throw a URIError.
SESSIONKIT_API std::optional<std::string> decode_uri_component(std::string_view text);

/// `encodeURIComponent` over UTF-8 text: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` becomes
/// `%XX` (upper-case hex).
/// @throws std::invalid_argument when the text is not valid UTF-8 (JavaScript throws URIError).
SESSIONKIT_API std::string encode_uri_component(std::string_view text);

/// `encode_uri_component` appended to `out`.
/// @throws std::invalid_argument as `encode_uri_component` (`out` may then hold part of it)
SESSIONKIT_API void append_encoded_uri_component(std::string& out, std::string_view text);

/// The `SameSite` attribute as configured. `true` means `Strict`; `false` or empty means none.
/// Strings are matched case-insensitively at serialisation and stored as written.
using same_site_value = std::variant<std::monostate, bool, std::string>;

/// Attributes of a `Set-Cookie` header, as `cookie.serialize` takes them.
struct set_cookie_options {
  std::optional<long long> max_age_seconds;  ///< `Max-Age` (express-session never sends it)
  std::optional<std::string> domain;
  std::optional<std::string> path;
  std::optional<timestamp> expires;
  bool http_only = false;
  bool secure = false;
  bool partitioned = false;
  std::optional<std::string> priority;  ///< `low`, `medium` or `high`, any case
  same_site_value same_site;            ///< `true`, or `lax`, `strict`, `none` in any case
};

/// A configuration value that cannot be serialised (the messages are `cookie.serialize`'s).
class invalid_cookie : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Serialises a `Set-Cookie` value like `cookie.serialize(name, value, options)`: the value is
/// URL-encoded, attributes follow in the order Max-Age, Domain, Path, Expires, HttpOnly, Secure,
/// Partitioned, Priority, SameSite.
/// @throws invalid_cookie for an invalid name, domain, path, priority or sameSite.
SESSIONKIT_API std::string serialize_set_cookie(std::string_view name, std::string_view value,
                                                const set_cookie_options& options);

/// True when `name` is an RFC 7230 token, the only names a cookie may have.
SESSIONKIT_API bool is_valid_cookie_name(std::string_view name) noexcept;

}  // namespace sessionkit
