#pragma once
/// @file beast.hpp
/// sessionkit on Boost.Beast/Asio: an asynchronous, multi-threaded HTTP/1.1 server with
/// keep-alive, a small router and a middleware chain, so an application reads like an Express
/// app:
///
/// @code
/// sessionkit::beast::app app;
/// app.use(sessionkit::beast::session_middleware(engine));
/// app.get("/counter", [](sessionkit::beast::context& c) -> boost::asio::awaitable<void> {
///   auto& count = (*c.session())["count"];
///   count = count.is_int64() ? count.get_int64() + 1 : 1;
///   c.send(boost::beast::http::status::ok, "count is " + std::to_string(count.get_int64()));
///   co_return;
/// });
/// @endcode

#include <sessionkit/adapter.hpp>
#include <sessionkit/asio.hpp>
#include <sessionkit/engine.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessionkit::beast {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

/// One request being handled: the request, the response being built, and the session.
class SESSIONKIT_API context {
 public:
  /// @param memo the connection's cookie memo (the server keeps one per connection), or null
  context(request& req, response& res, bool secure, cookie_memo* memo = nullptr);

  request& req() noexcept { return req_; }
  response& res() noexcept { return res_; }

  /// The target's path, without the query.
  std::string_view path() const noexcept;
  /// The target's query (after `?`), or empty.
  std::string_view query() const noexcept;
  /// Whether the adapter sees this request as secure (its trust-proxy setting and
  /// `X-Forwarded-Proto`); the engine's `proxy` option may override it.
  bool secure() const noexcept { return secure_; }

  /// The session (`req.session`), or nullptr when the session middleware did not run for this
  /// request, or the session was destroyed or unset.
  sessionkit::session* session() noexcept { return session_.session(); }
  /// `req.session = null` (see `options::unset`).
  void unset_session() noexcept { session_.unset_session(); }
  /// The request's session driver (set by the session middleware), or nullptr.
  request_driver* driver() noexcept { return session_.driver(); }
  void set_driver(std::shared_ptr<request_driver> d) noexcept { session_.set_driver(std::move(d)); }
  /// The connection's memo of the session id it last verified, or null (`request_info::memo`).
  cookie_memo* memo() const noexcept { return memo_; }

  /// Sets status, body and `Content-Type` (`res.send`).
  void send(http::status status, std::string body,
            std::string_view content_type = "text/html; charset=utf-8");

 private:
  request& req_;
  response& res_;
  bool secure_;
  cookie_memo* memo_;
  adapter::session_handle session_;
  friend class app;
  const class app* app_ = nullptr;  // the app running this request (for `next`)
};

/// A route handler.
using handler = std::function<boost::asio::awaitable<void>(context&)>;
/// Runs the rest of the chain (the next middleware, then the route).
using next_handler = std::function<boost::asio::awaitable<void>()>;
/// A middleware: work before and after `co_await next()`, or answer without calling it.
using middleware = std::function<boost::asio::awaitable<void>(context&, next_handler)>;

/// Middleware and routes, run in the order added, as in Express: a route added before a
/// middleware does not go through it. Paths match like Express's defaults: case-insensitive, an
/// optional trailing slash. Unknown paths get 404, known paths with another method 405.
class SESSIONKIT_API app {
 public:
  app& use(middleware m);
  app& route(http::verb method, std::string path, handler h);
  app& get(std::string path, handler h) { return route(http::verb::get, std::move(path), std::move(h)); }
  app& post(std::string path, handler h) { return route(http::verb::post, std::move(path), std::move(h)); }
  app& put(std::string path, handler h) { return route(http::verb::put, std::move(path), std::move(h)); }
  app& del(std::string path, handler h) { return route(http::verb::delete_, std::move(path), std::move(h)); }

  /// Runs the chain for one request.
  boost::asio::awaitable<void> dispatch(context& ctx) const;

 private:
  boost::asio::awaitable<void> run_from(context& ctx, std::size_t index) const;

  struct entry {
    middleware use;  // set for a middleware
    http::verb method{};
    std::string path;
    handler fn;      // set for a route
  };
  std::vector<entry> entries_;
};

/// The session middleware (express-session's `session(options)`): loads the session before the
/// route and, after it, saves / touches / destroys and adds `Set-Cookie`. The response is sent
/// only after that store operation completed; when the store fails, the response becomes a
/// 503 (store unavailable) or 500 with a plain-text reason, and no cookie is sent.
SESSIONKIT_API middleware session_middleware(std::shared_ptr<const sessionkit::engine> engine);

namespace detail {

/// The request as the engine sees it; `cookies` and `protos` hold joined header values.
SESSIONKIT_API request_info describe(const http::request_header<>& req, bool adapter_secure,
                                     adapter::joined_header& cookies, adapter::joined_header& protos);

/// Replaces `res` with the answer for a store error (503 with `Retry-After`, or 500), keeping
/// its version and keep-alive: nothing the handler prepared (its cookies included) goes out.
SESSIONKIT_API void answer_store_error(response& res, std::error_code ec);

/// The end of the request: `Set-Cookie` added, or the store error's answer.
SESSIONKIT_API void finish_response(response& res, std::error_code ec, const std::optional<std::string>& set_cookie);

}  // namespace detail

/// express-session around one handler, for any Beast server (no `app` or `server` of ours
/// needed): loads the request's session, runs `handler(sessionkit::adapter::session_handle&)`
/// with it, then saves / touches / destroys as express-session would and adds `Set-Cookie` to
/// `res`. When the store fails, `res` becomes a 503 (store unavailable, with `Retry-After`) or
/// 500 with a plain-text reason, and the handler does not run (load) or its cookie is withheld
/// (end). Send `res` once this completes.
///
/// `req` and `res` must stay valid until completion. The handler and the completion run on the
/// completion's associated executor (bind one: `bind_executor`, or a coroutine's): dispatched,
/// so a caller already running there continues at once when the store answers at once
/// (MemoryStore) or no store call is needed.
/// @param adapter_secure whether your server sees the request as secure (TLS, or a trusted
///        proxy's `X-Forwarded-Proto`); the engine's `proxy` option may override it
/// Completion: `void(std::error_code)`: the store error, if any (`res` already answers it).
///
/// @code
/// auto [ec] = co_await sessionkit::beast::async_run_with_session(
///     engine, req, res, false, [&](sessionkit::adapter::session_handle& s) {
///       auto& count = (*s.session())["count"];
///       count = count.is_int64() ? count.get_int64() + 1 : 1;
///       res.body() = "count is " + std::to_string(count.get_int64());
///     }, boost::asio::as_tuple(boost::asio::use_awaitable));
/// @endcode
template <class Handler, class Token>
auto async_run_with_session(const sessionkit::engine& engine, const http::request_header<>& req,
                            response& res, bool adapter_secure, Handler handler, Token&& token) {
  return boost::asio::async_initiate<Token, void(std::error_code)>(
      [&engine, &req, &res, adapter_secure](auto done, Handler handler) {
        adapter::joined_header cookies("; "), protos(", ");
        auto driver = engine.begin(detail::describe(req, adapter_secure, cookies, protos));
        auto executor = boost::asio::get_associated_executor(done);
        if (driver->first_step() == request_driver::step::skip) {  // no session on this path
          boost::asio::dispatch(executor, [handler = std::move(handler), done = std::move(done)]() mutable {
            adapter::session_handle none;
            handler(none);
            std::move(done)(std::error_code{});
          });
          return;
        }
        request_driver& d = *driver;
        async_load(d, boost::asio::bind_executor(
                          executor, [driver = std::move(driver), &res, handler = std::move(handler),
                                     done = std::move(done), executor](std::error_code ec) mutable {
                            if (ec) {
                              detail::answer_store_error(res, ec);
                              return std::move(done)(ec);
                            }
                            adapter::session_handle handle(driver);
                            handler(handle);
                            request_driver& d = *driver;
                            async_end(d, boost::asio::bind_executor(
                                             executor, [driver = std::move(driver), &res, done = std::move(done)](
                                                           std::error_code ec, std::optional<std::string> cookie) mutable {
                                               detail::finish_response(res, ec, cookie);
                                               std::move(done)(ec);
                                             }));
                          }));
      },
      token, std::move(handler));
}

/// Options of the HTTP server.
struct server_options {
  std::string host = "127.0.0.1";
  unsigned short port = 3000;  ///< 0 picks a free port (see `server::listen`)
  /// 0: one per hardware thread. With one, connections run without strands (the one thread
  /// serialises them already): then run the io_context on no other thread.
  unsigned threads = 0;
  std::size_t header_limit = 32 * 1024;  ///< bigger request headers get 431
  std::size_t body_limit = 1024 * 1024;  ///< bigger request bodies get 413
  /// Time allowed to receive a whole request (slow clients) and an idle keep-alive connection's
  /// wait for its next request.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  /// Treat `X-Forwarded-Proto: https` from the client as a secure request (Express's
  /// `trust proxy`); only behind a proxy that sets it.
  bool trust_proxy = false;
  /// Connections open at once; one more is answered `503 Service Unavailable` (with
  /// `Retry-After`) and closed, and the ones already open keep being served. 0: no limit.
  std::size_t max_connections = 1024;
  /// How long `stop()` lets in-flight requests finish before closing everything.
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds(10)};
};

/// An HTTP/1.1 server running an `app` on a pool of threads.
class SESSIONKIT_API server {
 public:
  server(const app& application, server_options opts);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The io_context the server runs on (stores may share it; post to it from any thread).
  boost::asio::io_context& io_context() noexcept;

  /// Binds and listens.
  /// @return the port, the real one when `port` was 0
  /// @throws std::system_error when the address cannot be bound
  unsigned short listen();

  /// Runs the server on `threads` threads (the caller's included) until it has stopped.
  void run();

  /// Stops gracefully: no new connections, idle connections closed, requests in flight
  /// finish (with their session writes) and get `Connection: close`. Thread-safe.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sessionkit::beast
