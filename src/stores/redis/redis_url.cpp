#include <sessionkit/stores/redis_store.hpp>

#include <sessionkit/cookie.hpp>
#include <sessionkit/log.hpp>

#include <charconv>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

namespace sessionkit {
namespace {

[[noreturn]] void bad(std::string_view url, const std::string& why) {
  // The password never goes into the message, whatever the URL's form.
  throw std::invalid_argument("invalid Redis URL '" + redact_url(url) + "': " + why);
}

template <class Int>
Int parse_number(std::string_view url, std::string_view text, Int max, const char* what) {
  unsigned long long n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || n > max)
    bad(url, std::string(what) + " must be a number up to " + std::to_string(max));
  return Int(n);
}

std::string decoded(std::string_view url, std::string_view text) {
  auto d = decode_uri_component(text);
  if (!d) bad(url, "bad percent-encoding");
  return std::move(*d);
}

// Calls take(key, value) for each `key=value` of a `&`-separated query.
template <class Take>
void for_each_parameter(std::string_view url, std::string_view query, Take&& take) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) bad(url, "query parameter without '='");
    take(pair.substr(0, eq), pair.substr(eq + 1));
  }
}

// `key=value&...` of a unix: URL.
void apply_query(std::string_view url, std::string_view query, redis_endpoint& ep) {
  for_each_parameter(url, query, [&](std::string_view key, std::string_view value) {
    if (key == "db") ep.database = parse_number<unsigned>(url, value, 1u << 20, "db");
    else if (key == "password") ep.password = decoded(url, value);
    else if (key == "user" || key == "username") ep.username = decoded(url, value);
    else bad(url, "unknown parameter '" + std::string(key) + "'");
  });
}

// `user:password@` or `password@` at the start of an authority, into `ep`; returns the rest.
std::string_view take_userinfo(std::string_view url, std::string_view authority, redis_endpoint& ep) {
  const std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return authority;
  const std::string_view userinfo = authority.substr(0, at);
  const std::size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) {
    ep.password = decoded(url, userinfo);  // redis://secret@host: a password alone
  } else {
    ep.username = decoded(url, userinfo.substr(0, colon));
    ep.password = decoded(url, userinfo.substr(colon + 1));
  }
  return authority.substr(at + 1);
}

// host[:port] or [v6]:port; `default_host` / `default_port` when one is not given (an empty
// default host: the host is required).
std::pair<std::string, std::uint16_t> host_and_port(std::string_view url, std::string_view authority,
                                                    std::string_view default_host, std::uint16_t default_port) {
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) bad(url, "unclosed '[' in the host");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad(url, "unexpected text after the host");
      port = after.substr(1);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) host = default_host;
  if (host.empty()) bad(url, "a host is missing");
  for (char c : host)
    if (c == '?' || c == '#' || c == ' ' || c == '/' || c == '@') bad(url, "invalid character in the host");
  const std::uint16_t p = port.empty() ? default_port : parse_number<std::uint16_t>(url, port, 65535, "the port");
  if (p == 0) bad(url, "the port must not be 0");
  return {std::string(host), p};
}

// The part of `url` after "scheme://" up to the query, and the query.
std::pair<std::string_view, std::string_view> rest_and_query(std::string_view url) {
  std::string_view rest = url.substr(url.find("://") + 3);
  const std::size_t q = rest.find('?');
  return {rest.substr(0, q), q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1)};
}

// `host:port,host:port...` (a sentinel's or a seed node's list).
std::vector<std::pair<std::string, std::uint16_t>> host_list(std::string_view url, std::string_view authority,
                                                             std::uint16_t default_port) {
  std::vector<std::pair<std::string, std::uint16_t>> out;
  while (!authority.empty()) {
    const std::size_t comma = authority.find(',');
    out.push_back(host_and_port(url, authority.substr(0, comma), "", default_port));
    authority = comma == std::string_view::npos ? std::string_view{} : authority.substr(comma + 1);
  }
  return out;
}

// redis-sentinel://[user:password@]host:port[,host:port...]/MASTER[?db=N&sentinel_user=U&sentinel_password=P]
// and rediss-sentinel://... (TLS to the sentinels and the master)
redis_endpoint parse_sentinel_url(std::string_view url, bool tls) {
  redis_endpoint ep;
  ep.tls.enabled = tls;
  auto [rest, query] = rest_and_query(url);
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 == rest.size()) bad(url, "the master's name is missing (/NAME)");
  ep.sentinel.master_name = decoded(url, rest.substr(slash + 1));
  ep.sentinel.sentinels = host_list(url, take_userinfo(url, rest.substr(0, slash), ep), 26379);
  if (ep.sentinel.sentinels.empty()) bad(url, "no sentinel host");
  for_each_parameter(url, query, [&](std::string_view key, std::string_view value) {
    if (key == "db") ep.database = parse_number<unsigned>(url, value, 1u << 20, "db");
    else if (key == "sentinel_password") ep.sentinel.password = decoded(url, value);
    else if (key == "sentinel_user" || key == "sentinel_username") ep.sentinel.username = decoded(url, value);
    else bad(url, "unknown parameter '" + std::string(key) + "' (the master's password goes before the @)");
  });
  return ep;
}

// redis-cluster://[user:password@]host:port[,host:port...][?refresh_ms=N] and rediss-cluster://
redis_endpoint parse_cluster_url(std::string_view url, bool tls) {
  redis_endpoint ep;
  ep.tls.enabled = tls;
  auto [rest, query] = rest_and_query(url);
  if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view path = rest.substr(slash + 1);
    // A cluster has only database 0.
    if (!path.empty() && path != "0") bad(url, "Redis Cluster has only database 0");
    rest = rest.substr(0, slash);
  }
  ep.cluster.seeds = host_list(url, take_userinfo(url, rest, ep), 6379);
  if (ep.cluster.seeds.empty()) bad(url, "no seed node (host:port)");
  ep.host = ep.cluster.seeds.front().first;
  ep.port = ep.cluster.seeds.front().second;
  for_each_parameter(url, query, [&](std::string_view key, std::string_view value) {
    if (key == "refresh_ms") {
      const auto ms = parse_number<unsigned>(url, value, 3'600'000u, "refresh_ms");
      if (ms < 100) bad(url, "refresh_ms must be at least 100");
      ep.cluster.refresh_interval = std::chrono::milliseconds(ms);
    } else {
      bad(url, "unknown parameter '" + std::string(key) + "'");
    }
  });
  return ep;
}

}  // namespace

bool is_redis_url(std::string_view url) noexcept {
  for (std::string_view scheme : {"redis://", "rediss://", "redis-sentinel://", "rediss-sentinel://", "redis-cluster://",
                                 "rediss-cluster://", "unix:"})
    if (url.substr(0, scheme.size()) == scheme) return true;
  return false;
}

redis_endpoint parse_redis_url(std::string_view url) {
  if (url.rfind("redis-sentinel://", 0) == 0) return parse_sentinel_url(url, false);
  if (url.rfind("rediss-sentinel://", 0) == 0) return parse_sentinel_url(url, true);
  if (url.rfind("redis-cluster://", 0) == 0) return parse_cluster_url(url, false);
  if (url.rfind("rediss-cluster://", 0) == 0) return parse_cluster_url(url, true);
  redis_endpoint ep;
  if (url.rfind("unix:", 0) == 0) {
    std::string_view rest = url.substr(5);
    if (rest.rfind("//", 0) == 0) rest.remove_prefix(2);  // unix:///path
    const std::size_t q = rest.find('?');
    ep.unix_socket = std::string(rest.substr(0, q));
    if (ep.unix_socket.empty() || ep.unix_socket.front() != '/') bad(url, "the socket path must be absolute");
    if (q != std::string_view::npos) apply_query(url, rest.substr(q + 1), ep);
    return ep;
  }
  const bool tls = url.rfind("rediss://", 0) == 0;
  if (url.rfind("redis://", 0) != 0 && !tls) bad(url, "expected redis://, rediss://, redis-sentinel://, rediss-sentinel://, redis-cluster://, "
                 "rediss-cluster:// or unix:");
  ep.tls.enabled = tls;
  std::string_view rest = url.substr(tls ? 9 : 8);
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash + 1);
    if (!path.empty()) ep.database = parse_number<unsigned>(url, path, 1u << 20, "the database");
  }
  authority = take_userinfo(url, authority, ep);
  std::tie(ep.host, ep.port) = host_and_port(url, authority, ep.host, ep.port);
  return ep;
}

}  // namespace sessionkit
