#include <sessionkit/session_cookie.hpp>


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

}  // namespace sessionkit
