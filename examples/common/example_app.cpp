#include "example_app.hpp"

#include <sessionkit/json.hpp>
#include <sessionkit/time.hpp>
#include <sessionkit/stores/memory_store.hpp>
#include <sessionkit/stores/redis_store.hpp>
#include <sessionkit/stores/sqlite_store.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <exception>
#include <iostream>
#include <vector>

namespace sessionkit::examples {

namespace {

// JavaScript's truthiness of a stored value (`if (session.count)`).
bool js_truthy(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return false;
    case boost::json::kind::bool_: return v.get_bool();
    case boost::json::kind::int64: return v.get_int64() != 0;
    case boost::json::kind::uint64: return v.get_uint64() != 0;
    case boost::json::kind::double_: return v.get_double() != 0 && !std::isnan(v.get_double());
    case boost::json::kind::string: return !v.get_string().empty();
    default: return true;  // objects and arrays
  }
}

// JavaScript's StringToNumber: whitespace trimmed, "" is 0, decimal literals with an optional
// sign, Infinity, and 0x / 0o / 0b integers; anything else is NaN.
double js_string_to_number(std::string_view s) {
  constexpr std::string_view space = " \t\n\v\f\r";
  const std::size_t begin = s.find_first_not_of(space);
  if (begin == std::string_view::npos) return 0;
  s = s.substr(begin, s.find_last_not_of(space) - begin + 1);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (s.size() > 2 && s[0] == '0') {
    int base = 0;
    if (s[1] == 'x' || s[1] == 'X') base = 16;
    else if (s[1] == 'o' || s[1] == 'O') base = 8;
    else if (s[1] == 'b' || s[1] == 'B') base = 2;
    if (base) {
      double n = 0;
      for (char c : s.substr(2)) {
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
        if (d >= base) return nan;
        n = n * base + d;
      }
      return n;
    }
  }
  double sign = 1;
  if (s.front() == '+' || s.front() == '-') {
    if (s.front() == '-') sign = -1;
    s.remove_prefix(1);
  }
  if (s == "Infinity") return sign * std::numeric_limits<double>::infinity();
  // digits [. digits] [e [+-] digits], or . digits [...]: what a decimal literal allows
  std::size_t i = 0, digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return nan;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t exponent_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exponent_digits;
    if (exponent_digits == 0) return nan;
  }
  if (i != s.size()) return nan;
  const std::string text(s);  // strtod reads what the checks above let through exactly
  return sign * std::strtod(text.c_str(), nullptr);
}

// JavaScript's ToNumber of a stored value (the `++` in `session.count++`).
double js_to_number(const boost::json::value& v);

// String(element) inside Array.prototype.join: null is "".
std::string js_join_element(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return "";
    case boost::json::kind::string: return std::string(v.get_string());
    case boost::json::kind::bool_: return v.get_bool() ? "true" : "false";
    case boost::json::kind::object: return "[object Object]";
    case boost::json::kind::array: {
      std::string out;
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        out += js_join_element(e);
      }
      return out;
    }
    default: {
      std::string out;
      sessionkit::stringify_to(out, v);  // numbers print as JavaScript prints them
      return out;
    }
  }
}

double js_to_number(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return 0;
    case boost::json::kind::bool_: return v.get_bool() ? 1 : 0;
    case boost::json::kind::int64: return double(v.get_int64());
    case boost::json::kind::uint64: return double(v.get_uint64());
    case boost::json::kind::double_: return v.get_double();
    case boost::json::kind::string: return js_string_to_number(v.get_string());
    case boost::json::kind::array: return js_string_to_number(js_join_element(v));
    default: return std::numeric_limits<double>::quiet_NaN();
  }
}

// `'count is ' + n`: JavaScript's Number to String (NaN and Infinity spelled out).
std::string js_number_text(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  std::string out;
  sessionkit::append_js_number(out, d);
  return out;
}

}  // namespace

std::string increment_count(sessionkit::session& s) {
  // The seed's `if (session.count) session.count++; else session.count = 1;`, with JavaScript's
  // semantics: a stored "5" becomes 6, true becomes 2, "abc" becomes NaN (stored as null).
  boost::json::value& count = s["count"];
  constexpr std::int64_t exact = std::int64_t{1} << 53;
  if (!js_truthy(count)) {
    count = 1;
    return "1";
  }
  if (count.is_int64() && count.get_int64() < exact && count.get_int64() > -exact) {
    count = count.get_int64() + 1;  // the usual case, exact as in JavaScript
    return std::to_string(count.get_int64());
  }
  const double next = js_to_number(count) + 1;
  if (std::isfinite(next) && next == std::trunc(next) && std::fabs(next) < double(exact)) count = std::int64_t(next);
  else count = next;  // NaN and Infinity are written as null, as JSON.stringify does
  return js_number_text(next);
}

reply counter(sessionkit::session* s) {
  if (!s) return {500, "no session\n", text_type};
  return {200, "count is " + increment_count(*s), html_type};
}

reply read_only(const sessionkit::session* s) {
  const boost::json::value* count = s ? s->find("count") : nullptr;
  std::string text = "0";
  if (count && count->is_number()) {
    text.clear();
    sessionkit::stringify_to(text, *count);
  }
  return {200, "count is " + text, html_type};
}

reply session_data(sessionkit::session* s, bool post, std::string_view body) {
  if (!s) return {500, "no session\n", text_type};
  if (post) {
    std::error_code ec;
    auto parsed = sessionkit::parse_json(body, ec);
    if (!parsed || !parsed->is_object()) return {400, "expected a JSON object\n", text_type};
    for (auto& member : parsed->get_object()) (*s)[member.key()] = std::move(member.value());
    return {200, R"({"ok":true})", json_type};
  }
  std::string json;
  sessionkit::stringify_to(json, s->data());
  return {200, std::move(json), json_type};
}

reply metrics_page(const sessionkit::options& session) {
  if (!session.metrics) return {404, "Not Found (start with --metrics)\n", text_type};
  return {200, session.metrics->render_prometheus(), "text/plain; version=0.0.4; charset=utf-8"};
}

reply destroy_without_session() {
  // The seed's `req.session.destroy()` throws where there is no session (outside the cookie's
  // path): Express answers 500.
  return {500, "no session\n", text_type};
}

reply destroyed(std::error_code ec) {
  if (ec)
    return {sessionkit::is_unavailable(ec) ? 503U : 500U, "Session not destroyed: " + ec.message() + "\n",
            text_type};
  return {200, "Session Destroyed!", html_type};
}

std::string form_field(std::string_view body, std::string_view name) {
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  };
  while (!body.empty()) {
    const std::size_t end = std::min(body.find('&'), body.size());
    const std::string_view pair = body.substr(0, end);
    body.remove_prefix(std::min(end + 1, body.size()));
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    std::string out;
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '+') out += ' ';
      else if (value[i] == '%' && i + 2 < value.size() && hex(value[i + 1]) >= 0 && hex(value[i + 2]) >= 0) {
        out += static_cast<char>(hex(value[i + 1]) * 16 + hex(value[i + 2]));
        i += 2;
      } else out += value[i];
    }
    return out;
  }
  return {};
}

std::optional<reply> check_login(const sessionkit::session* s, std::string_view body, std::string& user) {
  if (!s) return reply{500, "no session\n", text_type};
  user = form_field(body, "user");
  if (user.empty() || user.size() > 100) return reply{400, "expected a form field user (1 to 100 bytes)\n", text_type};
  return std::nullopt;
}

reply logged_in(sessionkit::session& s, std::string_view user, std::error_code ec) {
  if (ec) return {sessionkit::is_unavailable(ec) ? 503U : 500U, "not logged in: " + ec.message() + "\n", text_type};
  s.set_user(user);
  return {200, "logged in as " + std::string(user), text_type};
}

reply whoami(const sessionkit::session* s) {
  if (!s || s->user().empty()) return not_logged_in();
  return {200, std::string(s->user()), text_type};
}

reply not_logged_in() { return {401, "not logged in\n", text_type}; }

reply logged_out(std::error_code ec) {
  if (ec) return {sessionkit::is_unavailable(ec) ? 503U : 500U, "not logged out: " + ec.message() + "\n", text_type};
  return {200, "logged out", text_type};
}

reply my_sessions(std::error_code ec, const std::vector<sessionkit::user_session>& sessions, std::string_view current_id) {
  if (ec) return {sessionkit::is_unavailable(ec) ? 503U : 500U, "sessions not listed: " + ec.message() + "\n", text_type};
  boost::json::array out;
  auto time = [](const std::optional<sessionkit::timestamp>& t) -> boost::json::value {
    if (!t) return nullptr;
    return boost::json::string(sessionkit::format_iso_date(*t));
  };
  for (const auto& s : sessions) {
    boost::json::object item;
    item["id"] = s.id.substr(0, 8);  // a prefix: enough to tell them apart, useless as a cookie
    item["created"] = time(s.created);
    item["lastSeen"] = time(s.last_seen);
    item["current"] = s.id == current_id;
    out.push_back(std::move(item));
  }
  std::string json;
  sessionkit::stringify_to(json, out);
  return {200, std::move(json), json_type};
}

reply sessions_ended(std::error_code ec, std::size_t others, std::error_code own) {
  if (!ec) ec = own;
  if (ec) return {sessionkit::is_unavailable(ec) ? 503U : 500U, "not all sessions ended: " + ec.message() + "\n", text_type};
  return {200, std::to_string(others + 1) + " sessions ended", text_type};
}

reply home_page() {
  return {200, R"(<!doctype html>
<html><head><meta charset="utf-8"><title>sessionkit example</title></head>
<body><h1>sessionkit example</h1>
<ul>
<li><a href="/memory-store-counter">/memory-store-counter</a>,
<a href="/redis-store-counter">/redis-store-counter</a>,
<a href="/sqlite-store-counter">/sqlite-store-counter</a>: count your requests (in the store chosen with --store)</li>
<li><a href="/session-destroy">/session-destroy</a>: ends your session</li>
</ul></body></html>
)",
          html_type};
}

reply no_session() { return {200, "no session", html_type}; }

reply no_route(std::string_view path) {
  if (is_known_path(path)) return {405, "Method Not Allowed", text_type};
  return {404, "Not Found", text_type};
}

bool path_matches(std::string_view pattern, std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return pattern.size() == path.size() &&
         std::equal(pattern.begin(), pattern.end(), path.begin(), [](char a, char b) {
           return (a >= 'A' && a <= 'Z' ? a + 32 : a) == (b >= 'A' && b <= 'Z' ? b + 32 : b);
         });
}

bool is_known_path(std::string_view path) {
  static constexpr std::array<std::string_view, 10> others{
      "/",      "/no-session", "/session-read", "/session-data", "/session-destroy",
      "/login", "/whoami",     "/logout",       "/my-sessions",  "/logout-everywhere"};
  auto matches = [path](std::string_view p) { return path_matches(p, path); };
  return std::any_of(counter_paths.begin(), counter_paths.end(), matches) ||
         std::any_of(others.begin(), others.end(), matches);
}

void close_store(sessionkit::store& store, boost::asio::io_context& io) {
  store.shutdown();
  io.restart();
  // Each round runs what the previous one made ready (a closed socket's aborted read, say);
  // bounded, should a handler keep posting.
  for (int round = 0; round < 100 && io.poll() > 0; ++round) {
  }
}

std::shared_ptr<sessionkit::store> make_store(const example_flags& flags, boost::asio::io_context& io,
                         std::string_view program) {
  if (flags.store == "memory") {
    sessionkit::memory_store_options store_opts = flags.memory;
    store_opts.prune_interval = flags.prune_interval;
    auto memory = std::make_shared<sessionkit::memory_store>(io.get_executor(), store_opts);
    return memory;
  }
  if (flags.store.rfind("sqlite:", 0) == 0) {
    return std::make_shared<sessionkit::sqlite_store>(io.get_executor(), flags.sqlite);
  }
  auto redis = std::make_shared<sessionkit::redis_store>(io.get_executor(), flags.redis);
  // Give Redis a moment so the first requests find it; if it is down, requests get 503 until it
  // is back, and the store keeps reconnecting on its own.
  const auto deadline = std::chrono::steady_clock::now() + flags.redis.connect_timeout;
  while (!redis->ready() && std::chrono::steady_clock::now() < deadline)
    io.run_one_for(std::chrono::milliseconds(20));
  if (!redis->ready())
    std::cerr << program << ": Redis is not reachable yet; answering 503 until it is\n";
  return redis;
}

int example_main(int argc, char** argv, std::string_view program,
                 const std::function<int(const example_flags&)>& run) {
  return example_main(argc, argv, program, run, {});
}

int example_main(int argc, char** argv, std::string_view program,
                 const std::function<int(const example_flags&)>& run, const std::vector<std::string>& defaults) {
  example_flags flags;
  try {
    std::vector<std::string> args = defaults;
    args.insert(args.end(), argv + 1, argv + argc);
    flags = parse_flags(args);
  } catch (const flag_error& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  }
  if (flags.help) {
    std::cout << usage(std::string(program));
    return 0;
  }
  if (flags.demo_secret) {
    std::cerr << program
              << ": warning: signing cookies with the built-in demo secret, which is public: anyone "
                 "can forge session cookies for this server. Pass --secret with 32+ random bytes "
                 "(for example: --secret \"$(openssl rand -base64 32)\").\n";
  }
  try {
    return run(flags);
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace sessionkit::examples
