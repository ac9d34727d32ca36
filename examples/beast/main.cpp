// sessionkit-example: the seed's counter app on Boost.Beast.
//
//   GET /memory-store-counter  -> "count is N"   (also /redis-store-counter, /radis-store-counter,
//                                                 /sqlite-store-counter:
//                                                 every counter uses the store chosen by --store)
//   GET /session-destroy       -> "Session Destroyed!"

#include "example_flags.hpp"

#include <sessionkit/adapters/beast.hpp>
#include <sessionkit/json.hpp>
#include <sessionkit/log.hpp>
#include <sessionkit/stores/memory_store.hpp>
#include <sessionkit/stores/redis_store.hpp>
#include <sessionkit/stores/sqlite_store.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using sessionkit::beast::context;

namespace {

// `if (session.count) session.count++; else session.count = 1;` with JavaScript's truthiness.
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

asio::awaitable<void> counter(context& ctx) {
  sessionkit::session* s = ctx.session();
  if (!s) {
    ctx.send(http::status::internal_server_error, "no session\n", "text/plain; charset=utf-8");
    co_return;
  }
  ctx.send(http::status::ok, "count is " + increment_count(*s));
}

asio::awaitable<void> destroy(context& ctx) {
  if (sessionkit::session* s = ctx.session()) {
    auto [ec] = co_await sessionkit::async_destroy(*s, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      ctx.send(sessionkit::is_unavailable(ec) ? http::status::service_unavailable
                                              : http::status::internal_server_error,
               "Session not destroyed: " + ec.message() + "\n", "text/plain; charset=utf-8");
      co_return;
    }
  }
  ctx.send(http::status::ok, "Session Destroyed!");
}

// Reads without modifying: with resave false the store only gets a touch.
asio::awaitable<void> read_only(context& ctx) {
  const sessionkit::session* s = ctx.session();
  const boost::json::value* count = s ? s->find("count") : nullptr;
  std::string text = "0";
  if (count && count->is_number()) {
    text.clear();
    sessionkit::stringify_to(text, *count);
  }
  ctx.send(http::status::ok, "count is " + text);
  co_return;
}

// POST: merge a JSON object into the session (Object.assign); GET: the session's data as JSON.
asio::awaitable<void> session_data(context& ctx) {
  sessionkit::session* s = ctx.session();
  if (!s) {
    ctx.send(http::status::internal_server_error, "no session\n", "text/plain; charset=utf-8");
    co_return;
  }
  if (ctx.req().method() == http::verb::post) {
    std::error_code ec;
    auto body = sessionkit::parse_json(ctx.req().body(), ec);
    if (!body || !body->is_object()) {
      ctx.send(http::status::bad_request, "expected a JSON object\n", "text/plain; charset=utf-8");
      co_return;
    }
    for (auto& member : body->get_object()) (*s)[member.key()] = std::move(member.value());
    ctx.send(http::status::ok, R"({"ok":true})", "application/json; charset=utf-8");
    co_return;
  }
  std::string json;
  sessionkit::stringify_to(json, s->data());
  ctx.send(http::status::ok, std::move(json), "application/json; charset=utf-8");
}

asio::awaitable<void> home_page(context& ctx) {
  ctx.send(http::status::ok, R"(<!doctype html>
<html><head><meta charset="utf-8"><title>sessionkit example</title></head>
<body><h1>sessionkit example</h1>
<ul>
<li><a href="/memory-store-counter">/memory-store-counter</a>,
<a href="/redis-store-counter">/redis-store-counter</a>,
<a href="/sqlite-store-counter">/sqlite-store-counter</a>: count your requests (in the store chosen with --store)</li>
<li><a href="/session-destroy">/session-destroy</a>: ends your session</li>
</ul></body></html>
)");
  co_return;
}

}  // namespace

int main(int argc, char** argv) {
  namespace ex = sessionkit::examples;
  ex::example_flags flags;
  try {
    flags = ex::parse_flags(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const ex::flag_error& e) {
    std::cerr << "sessionkit-example: " << e.what() << "\n";
    return 2;
  }
  if (flags.help) {
    std::cout << ex::usage("sessionkit-example");
    return 0;
  }
  try {
    sessionkit::beast::server_options server_opts;
    server_opts.host = flags.host;
    server_opts.port = flags.port;
    server_opts.threads = flags.threads;
    server_opts.trust_proxy = flags.trust_proxy;

    sessionkit::beast::app app;
    sessionkit::beast::server server(app, server_opts);

    auto& io = server.io_context();
    std::shared_ptr<sessionkit::store> store;
    std::function<void()> stop_store;
    if (flags.store == "memory") {
      sessionkit::memory_store_options store_opts;
      store_opts.prune_interval = flags.prune_interval;
      auto memory = std::make_shared<sessionkit::memory_store>(io.get_executor(), store_opts);
      stop_store = [memory] { memory->stop(); };
      store = memory;
    } else if (flags.store.rfind("sqlite:", 0) == 0) {
      auto sqlite = std::make_shared<sessionkit::sqlite_store>(io.get_executor(), flags.sqlite);
      stop_store = [sqlite] { sqlite->stop(); };
      store = sqlite;
    } else {
      auto redis = std::make_shared<sessionkit::redis_store>(io.get_executor(), flags.redis);
      stop_store = [redis] { redis->stop(); };
      store = redis;
      // Give Redis a moment so the first requests find it; if it is down, requests get 503
      // until it is back, and the store keeps reconnecting on its own.
      const auto deadline = std::chrono::steady_clock::now() + flags.redis.connect_timeout;
      while (!redis->ready() && std::chrono::steady_clock::now() < deadline)
        io.run_one_for(std::chrono::milliseconds(20));
      if (!redis->ready())
        std::cerr << "sessionkit-example: Redis is not reachable yet; answering 503 until it is\n";
    }
    auto engine = std::make_shared<const sessionkit::engine>(flags.session, store);

    // The framework's floor (for benchmarks): registered before the session middleware.
    app.get("/no-session", [](context& ctx) -> asio::awaitable<void> {
      ctx.send(http::status::ok, "no session");
      co_return;
    });
    app.use(sessionkit::beast::session_middleware(engine));
    app.get("/", home_page);
    app.get("/session-read", read_only);
    app.get("/session-data", session_data);
    app.post("/session-data", session_data);
    app.get("/memory-store-counter", counter);
    app.get("/redis-store-counter", counter);
    app.get("/radis-store-counter", counter);  // the seed's own spelling
    app.get("/sqlite-store-counter", counter);
    app.get("/session-destroy", destroy);

    const unsigned short port = server.listen();
    asio::signal_set signals(server.io_context(), SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      stop_store();
      server.stop();
    });
    std::signal(SIGPIPE, SIG_IGN);

    std::cout << "sessionkit-example listening on http://" << flags.host << ":" << port << std::endl;
    server.run();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sessionkit-example: " << e.what() << "\n";
    return 1;
  }
}
