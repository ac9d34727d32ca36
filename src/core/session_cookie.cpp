#include <sessionkit/session_cookie.hpp>

#include <sessionkit/json.hpp>

#include <cmath>

namespace sessionkit {

std::optional<std::chrono::milliseconds> session_cookie::max_age(timestamp at) const {
  if (!expires) return std::nullopt;
  return *expires - at;
}

void session_cookie::set_max_age(std::optional<std::chrono::milliseconds> ms, timestamp at) {
  set_expires(ms ? std::optional<timestamp>(at + *ms) : std::nullopt, at);
}

void session_cookie::set_expires(std::optional<timestamp> when, timestamp at) {
  expires = when;
  original_max_age = when ? std::optional<long long>((*when - at).count()) : std::nullopt;
}

void session_cookie::reset_max_age(timestamp at) {
  set_max_age(original_max_age ? std::optional<std::chrono::milliseconds>(*original_max_age)
                               : std::nullopt,
              at);
}

set_cookie_options session_cookie::attributes() const {
  set_cookie_options o;
  o.domain = domain;
  o.path = path;
  o.expires = expires;
  o.http_only = http_only;
  o.secure = secure.value_or(false);
  o.partitioned = partitioned.value_or(false);
  o.priority = priority;
  o.same_site = same_site;
  return o;
}

void session_cookie::append_json(std::string& out) const {
  out += "{\"originalMaxAge\":";
  if (original_max_age) out += std::to_string(*original_max_age);
  else out += "null";
  if (partitioned) out += *partitioned ? ",\"partitioned\":true" : ",\"partitioned\":false";
  if (priority) {
    out += ",\"priority\":";
    append_json_string(out, *priority);
  }
  out += ",\"expires\":";
  if (expires) {
    out += '"';
    out += format_iso_date(*expires);
    out += '"';
  } else {
    out += "null";
  }
  if (secure) out += *secure ? ",\"secure\":true" : ",\"secure\":false";
  out += http_only ? ",\"httpOnly\":true" : ",\"httpOnly\":false";
  if (domain) {
    out += ",\"domain\":";
    append_json_string(out, *domain);
  }
  out += ",\"path\":";
  append_json_string(out, path);
  if (const bool* b = std::get_if<bool>(&same_site)) {
    out += *b ? ",\"sameSite\":true" : ",\"sameSite\":false";
  } else if (const std::string* s = std::get_if<std::string>(&same_site)) {
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

bool session_cookie::assign_from_json(const boost::json::object& stored) {
  *this = session_cookie{};
  bool ok = true;
  if (const auto* v = stored.if_contains("originalMaxAge")) original_max_age = read_integer(*v, ok);
  if (const auto* v = stored.if_contains("partitioned")) partitioned = read_bool(*v, ok);
  if (const auto* v = stored.if_contains("priority")) priority = read_string(*v, ok);
  if (const auto* v = stored.if_contains("expires")) {
    if (v->is_string()) {
      expires = parse_date(v->get_string());
      if (!expires) ok = false;
    } else if (auto ms = read_integer(*v, ok)) {
      expires = timestamp{std::chrono::milliseconds{*ms}};
    }
  }
  if (const auto* v = stored.if_contains("secure")) secure = read_bool(*v, ok);
  if (const auto* v = stored.if_contains("httpOnly")) http_only = read_bool(*v, ok).value_or(false);
  if (const auto* v = stored.if_contains("domain")) domain = read_string(*v, ok);
  if (const auto* v = stored.if_contains("path")) {
    if (auto p = read_string(*v, ok)) path = std::move(*p);
  }
  if (const auto* v = stored.if_contains("sameSite")) {
    if (v->is_bool()) same_site = v->get_bool();
    else if (v->is_string()) same_site = std::string(v->get_string());
    else if (!v->is_null()) ok = false;
  }
  return ok;
}

}  // namespace sessionkit
