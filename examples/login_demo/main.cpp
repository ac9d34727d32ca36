// sessionkit-login-demo: a small login site on the Beast adapter, the app a newcomer tries first.
//
//   GET  /                 who you are and your visit counter (counts in the session)
//   GET  /login            the login form, with the demo accounts
//   POST /login            user + password (+ csrf): regenerate, set_user, new CSRF token -> /
//   POST /logout           destroy (the cookie is cleared) -> /login
//   GET  /sessions         this user's sessions: device, login time, last seen, this one marked
//   POST /sessions/end     ends one of them (form field `session`)
//   POST /sessions/others  "log out everywhere else"
//   GET  /memory-store-counter (and the seed's other counter paths): the seed's counter
//
// Every POST must carry the session's CSRF token (form field `csrf`), else 403. The cookie is
// HttpOnly, SameSite=Lax, lives 30 days ("remember me" across browser restarts) and is Secure
// with --secure auto behind a TLS proxy (--trust-proxy). Every store flag of sessionkit-example
// works here (--store memory | redis://... | sqlite:PATH).

#include "accounts.hpp"
#include "example_app.hpp"
#include "pages.hpp"

#include <sessionkit/adapters/beast.hpp>
#include <sessionkit/events.hpp>
#include <sessionkit/id.hpp>
#include <sessionkit/time.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/crypto.h>

#include <csignal>
#include <iostream>

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ex = sessionkit::examples;
namespace demo = sessionkit::login_demo;
using sessionkit::beast::context;

namespace {

constexpr std::string_view csrf_key = "csrf";
constexpr std::string_view device_key = "device";

void page(context& ctx, http::status status, std::string html) { ctx.send(status, std::move(html)); }

void redirect(context& ctx, std::string_view location) {
  ctx.send(http::status::see_other, "See " + std::string(location) + "\n", ex::text_type);
  ctx.res().set(http::field::location, location);
}

// The session's CSRF token, made on first use (32 random base64url characters from the CSPRNG).
std::string csrf_of(sessionkit::session& s) {
  if (const auto* token = s.find(csrf_key); token && token->is_string()) return std::string(token->get_string());
  std::string token = sessionkit::generate_id();
  s[csrf_key] = token;
  return token;
}

// A POST carries the session's token: compared in constant time.
bool csrf_ok(const sessionkit::session* s, std::string_view body) {
  if (!s) return false;
  const auto* token = s->find(csrf_key);
  const std::string sent = ex::form_field(body, "csrf");
  if (!token || !token->is_string() || sent.empty() || sent.size() != token->get_string().size()) return false;
  return CRYPTO_memcmp(sent.data(), token->get_string().data(), sent.size()) == 0;
}

// "2026-11-28 19:50 UTC"
std::string readable(const std::optional<sessionkit::timestamp>& t) {
  if (!t) return "-";
  const std::string iso = sessionkit::format_iso_date(*t);  // 2026-11-28T19:50:12.345Z
  return iso.substr(0, 10) + " " + iso.substr(11, 5) + " UTC";
}

std::string_view user_agent(context& ctx) {
  const auto ua = ctx.req()[http::field::user_agent];
  return std::string_view(ua.data(), std::min<std::size_t>(ua.size(), 200));
}

// Destroys the stored session `key` (a listed session of this user), answered on the caller's
// executor.
template <class Token>
auto async_destroy_key(sessionkit::store& store, std::string key, Token&& token) {
  return asio::async_initiate<Token, void(std::error_code)>(
      [&store](auto handler, std::string key) {
        auto executor = asio::get_associated_executor(handler);
        store.destroy(key, [h = std::move(handler), executor](std::error_code ec) mutable {
          asio::post(executor, [h = std::move(h), ec]() mutable { h(ec); });
        });
      },
      token, std::move(key));
}

// A path outside the cookie's (--path) has no session: the demo's pages need one.
void outside_path(context& ctx) {
  page(ctx, http::status::not_found, demo::unavailable_page("This page is outside the session cookie's path."));
}

struct routes {
  std::shared_ptr<const sessionkit::engine> engine;

  // 403 for a POST without the session's token, saying whether the session cookie came with it.
  void forbidden(context& ctx) const {
    const auto header = ctx.req()[http::field::cookie];
    const std::string wanted = engine->settings().name + "=";
    const bool came = std::string_view(header.data(), header.size()).find(wanted) != std::string_view::npos;
    page(ctx, http::status::forbidden, demo::forbidden_page(came));
  }

  asio::awaitable<void> home(context& ctx) const {
    sessionkit::session* s = ctx.session();
    if (!s) co_return outside_path(ctx);
    const std::string count = ex::increment_count(*s);
    page(ctx, http::status::ok, demo::home_page(s->user(), count, csrf_of(*s)));
    co_return;
  }

  asio::awaitable<void> login_form(context& ctx) const {
    sessionkit::session* s = ctx.session();
    if (!s) co_return outside_path(ctx);
    if (!s->user().empty()) redirect(ctx, "/");
    else page(ctx, http::status::ok, demo::login_page(csrf_of(*s), {}, {}));
    co_return;
  }

  asio::awaitable<void> login(context& ctx) const {
    sessionkit::session* s = ctx.session();
    const std::string& body = ctx.req().body();
    if (!csrf_ok(s, body)) co_return forbidden(ctx);
    const std::string user = ex::form_field(body, "user");
    if (!demo::check_password(user, ex::form_field(body, "password")))
      co_return page(ctx, http::status::unauthorized,
                     demo::login_page(csrf_of(*s), "Wrong user name or password.", user.substr(0, 100)));
    // A new id on login (session fixation), then who it is, a new token and the device.
    auto [ec] = co_await sessionkit::async_regenerate(*s, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return page(ctx, http::status::service_unavailable, demo::unavailable_page(ec.message()));
    s->set_user(user);
    (*s)[csrf_key] = sessionkit::generate_id();
    (*s)[device_key] = std::string(user_agent(ctx));
    redirect(ctx, "/");
  }

  asio::awaitable<void> logout(context& ctx) const {
    sessionkit::session* s = ctx.session();
    if (!csrf_ok(s, ctx.req().body())) co_return forbidden(ctx);
    auto [ec] = co_await sessionkit::async_destroy(*s, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return page(ctx, http::status::service_unavailable, demo::unavailable_page(ec.message()));
    redirect(ctx, "/login");
  }

  asio::awaitable<void> sessions(context& ctx) const {
    sessionkit::session* s = ctx.session();
    if (!s) co_return outside_path(ctx);
    if (s->user().empty()) co_return redirect(ctx, "/login");
    auto [ec, listed] = co_await sessionkit::async_sessions_of(*engine, s->user(), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return page(ctx, http::status::service_unavailable, demo::unavailable_page(ec.message()));
    const std::string current = engine->store_key(s->id());
    std::vector<demo::session_row> rows;
    for (const auto& listed_session : listed) {
      demo::session_row row;
      row.reference = sessionkit::hash_session_id(listed_session.id);
      if (const auto* d = listed_session.data.if_contains(device_key); d && d->is_string())
        row.device = std::string(d->get_string());
      row.created = readable(listed_session.created);
      row.last_seen = readable(listed_session.last_seen);
      row.current = listed_session.id == current;
      rows.push_back(std::move(row));
    }
    std::string notice;  // after an "end" button: ?ended=N
    if (const std::string_view query = ctx.query(); query.starts_with("ended=")) {
      const std::string_view n = query.substr(6);
      if (!n.empty() && n.size() <= 6 && n.find_first_not_of("0123456789") == std::string_view::npos)
        notice = std::string(n) + (n == "1" ? " session ended." : " sessions ended.");
    }
    page(ctx, http::status::ok, demo::sessions_page(s->user(), rows, csrf_of(*s), notice));
  }

  asio::awaitable<void> end_one(context& ctx) const {
    sessionkit::session* s = ctx.session();
    if (!csrf_ok(s, ctx.req().body())) co_return forbidden(ctx);
    if (s->user().empty()) co_return redirect(ctx, "/login");
    const std::string reference = ex::form_field(ctx.req().body(), "session");
    auto [ec, listed] = co_await sessionkit::async_sessions_of(*engine, s->user(), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return page(ctx, http::status::service_unavailable, demo::unavailable_page(ec.message()));
    // Only a session of this user, found by its reference, and never the current one.
    const std::string current = engine->store_key(s->id());
    std::size_t ended = 0;
    for (const auto& listed_session : listed) {
      if (listed_session.id == current || sessionkit::hash_session_id(listed_session.id) != reference) continue;
      auto [destroyed] = co_await async_destroy_key(engine->backing_store(), listed_session.id,
                                                    asio::as_tuple(asio::use_awaitable));
      if (destroyed) co_return page(ctx, http::status::service_unavailable, demo::unavailable_page(destroyed.message()));
      ++ended;
    }
    redirect(ctx, "/sessions?ended=" + std::to_string(ended));
  }

  asio::awaitable<void> end_others(context& ctx) const {
    sessionkit::session* s = ctx.session();
    if (!csrf_ok(s, ctx.req().body())) co_return forbidden(ctx);
    if (s->user().empty()) co_return redirect(ctx, "/login");
    auto [ec, ended] =
        co_await sessionkit::async_destroy_all_of(*engine, s->user(), s->id(), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return page(ctx, http::status::service_unavailable, demo::unavailable_page(ec.message()));
    redirect(ctx, "/sessions?ended=" + std::to_string(ended));
  }
};

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
  auto store = ex::make_store(flags, server.io_context(), "sessionkit-login-demo");
  auto engine = std::make_shared<const sessionkit::engine>(flags.session, store);
  const auto r = std::make_shared<routes>(routes{engine});
  auto bind = [r](asio::awaitable<void> (routes::*fn)(context&) const) {
    return [r, fn](context& ctx) { return ((*r).*fn)(ctx); };
  };

  app.use(sessionkit::beast::session_middleware(engine));
  app.get("/", bind(&routes::home));
  app.get("/login", bind(&routes::login_form));
  app.post("/login", bind(&routes::login));
  app.post("/logout", bind(&routes::logout));
  app.get("/sessions", bind(&routes::sessions));
  app.post("/sessions/end", bind(&routes::end_one));
  app.post("/sessions/others", bind(&routes::end_others));
  for (std::string_view path : ex::counter_paths) {
    app.get(std::string(path), [](context& ctx) -> asio::awaitable<void> {
      const ex::reply reply = ex::counter(ctx.session());
      ctx.send(static_cast<http::status>(reply.status), reply.body, reply.content_type);
      co_return;
    });
  }

  const unsigned short port = server.listen();
  asio::signal_set signals(server.io_context(), SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    server.stop();  // requests in flight finish, with their store writes; the store closes after
  });
  std::signal(SIGPIPE, SIG_IGN);
  std::cout << "sessionkit-login-demo listening on http://" << flags.host << ":" << port
            << " (log in as alice / wonderland)" << std::endl;
  server.run();
  ex::close_store(*store, server.io_context());
  app = sessionkit::beast::app{};
  engine.reset();
  store = {};
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The demo's cookie: 30 days (a browser restart keeps the login), SameSite=Lax, cleared on
  // logout; no session is stored for a visitor until it holds something. Flags given on the
  // command line come after these and win.
  const std::vector<std::string> defaults{"--max-age", "2592000000", "--same-site", "lax",
                                          "--clear-cookie-on-destroy", "true", "--save-uninitialized", "false"};
  return ex::example_main(argc, argv, "sessionkit-login-demo", run, defaults);
}
