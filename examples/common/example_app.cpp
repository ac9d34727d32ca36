#include "example_app.hpp"

#include <sessionkit/json.hpp>
#include <sessionkit/stores/memory_store.hpp>
#include <sessionkit/stores/redis_store.hpp>
#include <sessionkit/stores/sqlite_store.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <iostream>
#include <vector>

namespace sessionkit::examples {

std::string increment_count(sessionkit::session& s) {
  boost::json::value& count = s["count"];
  if (count.is_int64() && count.get_int64() != 0) count = count.get_int64() + 1;
  else if (count.is_uint64() && count.get_uint64() != 0) count = count.get_uint64() + 1;
  else if (count.is_double() && count.get_double() != 0 && count.get_double() == count.get_double())
    count = count.get_double() + 1;
  else count = 1;
  std::string text;
  sessionkit::stringify_to(text, count);
  return text;
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

reply destroyed(std::error_code ec) {
  if (ec)
    return {sessionkit::is_unavailable(ec) ? 503U : 500U, "Session not destroyed: " + ec.message() + "\n",
            text_type};
  return {200, "Session Destroyed!", html_type};
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
  static constexpr std::array<std::string_view, 5> others{"/", "/no-session", "/session-read",
                                                          "/session-data", "/session-destroy"};
  auto matches = [path](std::string_view p) { return path_matches(p, path); };
  return std::any_of(counter_paths.begin(), counter_paths.end(), matches) ||
         std::any_of(others.begin(), others.end(), matches);
}

std::shared_ptr<sessionkit::store> make_store(const example_flags& flags, boost::asio::io_context& io,
                         std::string_view program) {
  if (flags.store == "memory") {
    sessionkit::memory_store_options store_opts;
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
  example_flags flags;
  try {
    flags = parse_flags(std::vector<std::string>(argv + 1, argv + argc));
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
