// The record codec, part 2: a session's `cookie` object as express-session stores it
// (`cookie.toJSON()`): written in Node's key order, read back the way express-session revives
// it, and read from the plain text JSON.stringify writes without building JSON values.

#include <sessionkit/record.hpp>

#include <sessionkit/json.hpp>

#include "detail/plain_json.hpp"

#include <cmath>

namespace sessionkit::record {

void append_cookie(std::string& out, const session_cookie& c) {
  out += "{\"originalMaxAge\":";
  if (c.original_max_age) out += std::to_string(*c.original_max_age);
  else out += "null";
  if (c.partitioned) out += *c.partitioned ? ",\"partitioned\":true" : ",\"partitioned\":false";
  if (c.priority) {
    out += ",\"priority\":";
    append_json_string(out, *c.priority);
  }
  out += ",\"expires\":";
  if (c.expires) {
    out += '"';
    append_iso_date(out, *c.expires);
    out += '"';
  } else {
    out += "null";
  }
  if (c.secure) out += *c.secure ? ",\"secure\":true" : ",\"secure\":false";
  out += c.http_only ? ",\"httpOnly\":true" : ",\"httpOnly\":false";
  if (c.domain) {
    out += ",\"domain\":";
    append_json_string(out, *c.domain);
  }
  out += ",\"path\":";
  append_json_string(out, c.path);
  if (const bool* b = std::get_if<bool>(&c.same_site)) {
    out += *b ? ",\"sameSite\":true" : ",\"sameSite\":false";
  } else if (const std::string* s = std::get_if<std::string>(&c.same_site)) {
    out += ",\"sameSite\":";
    append_json_string(out, *s);
  }
  out += '}';
}

namespace {

std::optional<bool> read_bool(const boost::json::value& v, bool& ok) {
  if (v.is_null()) return std::nullopt;
  if (!v.is_bool()) {
    ok = false;
    return std::nullopt;
  }
  return v.get_bool();
}

std::optional<std::string> read_string(const boost::json::value& v, bool& ok) {
  if (v.is_null()) return std::nullopt;
  if (!v.is_string()) {
    ok = false;
    return std::nullopt;
  }
  return std::string(v.get_string());
}

// Milliseconds within JavaScript's Date range (±8.64e15): anything larger is no date Node could
// use, and would overflow our time arithmetic (found by fuzz_session_record).
constexpr double max_js_ms = 8.64e15;

std::optional<long long> read_integer(const boost::json::value& v, bool& ok) {
  if (v.is_null()) return std::nullopt;
  if (v.is_number()) {
    const double d = v.is_double() ? v.get_double() : v.is_int64() ? double(v.get_int64()) : double(v.get_uint64());
    if (std::isfinite(d) && std::fabs(d) <= max_js_ms) return (long long)std::trunc(d);
  }
  ok = false;
  return std::nullopt;
}

}  // namespace

bool read_cookie(const boost::json::object& stored, session_cookie& c) {
  c = session_cookie{};
  bool ok = true;
  // One pass over the members (a record's cookie has a handful) instead of a lookup per name.
  for (const auto& member : stored) {
    const std::string_view key = member.key();
    const boost::json::value& v = member.value();
    if (key == "originalMaxAge") {
      c.original_max_age = read_integer(v, ok);
    } else if (key == "expires") {
      if (v.is_string()) {
        c.expires = parse_date(v.get_string());
        if (!c.expires) ok = false;
      } else if (auto ms = read_integer(v, ok)) {
        c.expires = timestamp{std::chrono::milliseconds{*ms}};
      } else {
        c.expires.reset();
      }
    } else if (key == "httpOnly") {
      c.http_only = read_bool(v, ok).value_or(false);
    } else if (key == "path") {
      if (auto p = read_string(v, ok)) c.path = std::move(*p);
    } else if (key == "secure") {
      c.secure = read_bool(v, ok);
    } else if (key == "domain") {
      c.domain = read_string(v, ok);
    } else if (key == "sameSite") {
      if (v.is_bool()) c.same_site = v.get_bool();
      else if (v.is_string()) c.same_site = std::string(v.get_string());
      else if (v.is_null()) c.same_site = {};
      else ok = false;
    } else if (key == "partitioned") {
      c.partitioned = read_bool(v, ok);
    } else if (key == "priority") {
      c.priority = read_string(v, ok);
    }
  }
  return ok;
}

using detail::plain_reader;

bool read_plain_cookie(std::string_view text, session_cookie& out) {
  session_cookie c;
  plain_reader in(text);
  if (!in.take('{')) return false;
  unsigned seen = 0;  // one bit per key: a repeated key takes the general path
  bool first = true;
  while (!in.take('}')) {
    if (!first && !in.take(',')) return false;
    first = false;
    const auto key = in.string();
    if (!key || !in.take(':')) return false;
    // The value readers accept exactly what read_cookie accepts for the key.
    using literal = plain_reader::literal;
    auto read_optional_bool = [&](std::optional<bool>& out) {
      switch (in.boolean_or_null()) {
        case literal::true_: out = true; return true;
        case literal::false_: out = false; return true;
        case literal::null: out.reset(); return true;
        case literal::none: break;
      }
      return false;
    };
    auto read_optional_string = [&](std::optional<std::string>& out) {
      if (in.take_word("null")) {
        out.reset();
        return true;
      }
      auto s = in.string();
      if (!s) return false;
      out = std::string(*s);
      return true;
    };
    unsigned bit = 0;
    bool ok = false;
    if (*key == "originalMaxAge") {
      bit = 1;
      if (in.take_word("null")) {
        c.original_max_age.reset();
        ok = true;
      } else if (auto n = in.integer()) {
        c.original_max_age = *n;
        ok = true;
      }
    } else if (*key == "expires") {
      bit = 2;
      if (in.take_word("null")) {
        c.expires.reset();
        ok = true;
      } else if (auto s = in.string()) {
        c.expires = parse_date(*s);
        ok = c.expires.has_value();
      } else if (auto n = in.integer()) {
        c.expires = timestamp{std::chrono::milliseconds{*n}};
        ok = true;
      }
    } else if (*key == "httpOnly") {
      bit = 4;
      std::optional<bool> b;
      ok = read_optional_bool(b);
      c.http_only = b.value_or(false);
    } else if (*key == "path") {
      bit = 8;
      std::optional<std::string> p;
      ok = read_optional_string(p);
      if (p) c.path = std::move(*p);
    } else if (*key == "secure") {
      bit = 16;
      ok = read_optional_bool(c.secure);
    } else if (*key == "domain") {
      bit = 32;
      ok = read_optional_string(c.domain);
    } else if (*key == "sameSite") {
      bit = 64;
      const literal b = in.boolean_or_null();
      if (b != literal::none) {
        if (b == literal::null) c.same_site = {};
        else c.same_site = b == literal::true_;
        ok = true;
      } else if (auto s = in.string()) {
        c.same_site = std::string(*s);
        ok = true;
      }
    } else if (*key == "partitioned") {
      bit = 128;
      ok = read_optional_bool(c.partitioned);
    } else if (*key == "priority") {
      bit = 256;
      ok = read_optional_string(c.priority);
    }
    if (!ok || (seen & bit)) return false;  // unknown keys (bit 0) are left to the general path
    seen |= bit;
  }
  if (!in.at_end()) return false;
  out = std::move(c);
  return true;
}

}  // namespace sessionkit::record
