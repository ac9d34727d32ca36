// sessionkit-example: the seed's counter app on Boost.Beast (routes in example_app.hpp).
//
//   GET /memory-store-counter  -> "count is N"   (also /redis-store-counter, /radis-store-counter,
//                                                 /sqlite-store-counter:
//                                                 every counter uses the store chosen by --store)
//   GET /session-destroy       -> "Session Destroyed!"
//   GET /session-hold?ms=N     -> the counter, answered N ms after the session was loaded

#include "example_app.hpp"

#include <sessionkit/adapters/beast.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <iostream>

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ex = sessionkit::examples;
using sessionkit::beast::context;

namespace {

void send(context& ctx, const ex::reply& r) {
  ctx.send(static_cast<http::status>(r.status), r.body, r.content_type);
}

asio::awaitable<void> counter(context& ctx) {
  send(ctx, ex::counter(ctx.session()));
  co_return;
}

// GET /session-hold?ms=N: counts like the counter, N ms (at most 60000) after the session was
// loaded: the request keeps its session (and with --concurrency lock the session's lock) that
// long. For trying concurrency control.
asio::awaitable<void> hold(context& ctx) {
  const std::string_view target = ctx.req().target();
  const auto at = target.find("ms=");
  long long ms = 0;
  if (at != std::string_view::npos) {
    for (std::size_t i = at + 3; i < target.size() && target[i] >= '0' && target[i] <= '9' && ms <= 60000; ++i)
      ms = ms * 10 + (target[i] - '0');
  }
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(std::min(ms, 60000LL)));
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  send(ctx, ex::counter(ctx.session()));
}

asio::awaitable<void> destroy(context& ctx) {
  sessionkit::session* s = ctx.session();
  if (!s) {
    send(ctx, ex::destroy_without_session());
    co_return;
  }
  auto [ec] = co_await sessionkit::async_destroy(*s, asio::as_tuple(asio::use_awaitable));
  send(ctx, ex::destroyed(ec));
}

// The account routes (example_app.hpp): log in, who am I, log out, my sessions, log out
// everywhere.
asio::awaitable<void> login(context& ctx) {
  sessionkit::session* s = ctx.session();
  std::string user;
  if (auto refused = ex::check_login(s, ctx.req().body(), user)) {
    send(ctx, *refused);
    co_return;
  }
  auto [ec] = co_await sessionkit::async_regenerate(*s, asio::as_tuple(asio::use_awaitable));
  send(ctx, ex::logged_in(*s, user, ec));
}

asio::awaitable<void> whoami(context& ctx) {
  send(ctx, ex::whoami(ctx.session()));
  co_return;
}

asio::awaitable<void> logout(context& ctx) {
  sessionkit::session* s = ctx.session();
  if (!s) {
    send(ctx, ex::not_logged_in());
    co_return;
  }
  auto [ec] = co_await sessionkit::async_destroy(*s, asio::as_tuple(asio::use_awaitable));
  send(ctx, ex::logged_out(ec));
}

asio::awaitable<void> read_only(context& ctx) {
  send(ctx, ex::read_only(ctx.session()));
  co_return;
}

asio::awaitable<void> session_data(context& ctx) {
  send(ctx, ex::session_data(ctx.session(), ctx.req().method() == http::verb::post, ctx.req().body()));
  co_return;
}

asio::awaitable<void> home_page(context& ctx) {
  send(ctx, ex::home_page());
  co_return;
}

int run(const ex::example_flags& flags) {
  sessionkit::beast::server_options server_opts;
  server_opts.host = flags.host;
  server_opts.port = flags.port;
  server_opts.threads = flags.threads;
  server_opts.trust_proxy = flags.trust_proxy;
  server_opts.read_timeout = flags.read_timeout;
  server_opts.max_connections = flags.max_connections;

  sessionkit::beast::app app;
  sessionkit::beast::server server(app, server_opts);

  auto store = ex::make_store(flags, server.io_context(), "sessionkit-example");
  auto engine = std::make_shared<const sessionkit::engine>(flags.session, store);

  // The framework's floor (for benchmarks): registered before the session middleware.
  app.get("/no-session", [](context& ctx) -> asio::awaitable<void> {
    send(ctx, ex::no_session());
    co_return;
  });
  app.get("/metrics", [&flags](context& ctx) -> asio::awaitable<void> {
    send(ctx, ex::metrics_page(flags.session));
    co_return;
  });
  app.use(sessionkit::beast::session_middleware(engine));
  app.get("/", home_page);
  app.get("/session-read", read_only);
  app.get("/session-data", session_data);
  app.post("/session-data", session_data);
  for (std::string_view path : ex::counter_paths) app.get(std::string(path), counter);
  app.get("/session-destroy", destroy);
  app.get("/session-hold", hold);
  app.post("/login", login);
  app.get("/whoami", whoami);
  app.post("/logout", logout);
  app.get("/my-sessions", [engine](context& ctx) -> asio::awaitable<void> {
    sessionkit::session* s = ctx.session();
    if (!s || s->user().empty()) {
      send(ctx, ex::not_logged_in());
      co_return;
    }
    auto [ec, sessions] = co_await sessionkit::async_sessions_of(*engine, s->user(), asio::as_tuple(asio::use_awaitable));
    send(ctx, ex::my_sessions(ec, sessions, engine->store_key(s->id())));
  });
  app.post("/logout-everywhere", [engine](context& ctx) -> asio::awaitable<void> {
    sessionkit::session* s = ctx.session();
    if (!s || s->user().empty()) {
      send(ctx, ex::not_logged_in());
      co_return;
    }
    auto [ec, others] =
        co_await sessionkit::async_destroy_all_of(*engine, s->user(), s->id(), asio::as_tuple(asio::use_awaitable));
    auto [own] = co_await sessionkit::async_destroy(*s, asio::as_tuple(asio::use_awaitable));
    send(ctx, ex::sessions_ended(ec, others, own));
  });

  const unsigned short port = server.listen();
  asio::signal_set signals(server.io_context(), SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    server.stop();  // requests in flight finish, with their store writes; the store closes after
  });
  std::signal(SIGPIPE, SIG_IGN);

  std::cout << "sessionkit-example listening on http://" << flags.host << ":" << port << std::endl;
  server.run();
  ex::close_store(*store, server.io_context());

  // The app holds the engine and so the store, whose destructor still posts to the server's
  // io_context: release them while that exists.
  app = sessionkit::beast::app{};
  engine.reset();
  store = {};
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return ex::example_main(argc, argv, "sessionkit-example", run); }
