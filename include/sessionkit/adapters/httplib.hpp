#pragma once
/// @file httplib.hpp
/// sessionkit on cpp-httplib: a wrapper that gives a route handler the request's session.
///
/// cpp-httplib runs each connection on a worker thread and its handlers are synchronous, so the
/// wrapper waits on that thread for the store: it loads the session before the handler and,
/// after it, saves / touches / destroys and adds `Set-Cookie` before httplib writes the
/// response. The store's completions must run elsewhere (an `io_context` of your own on its own
/// thread, which the stores take as their executor):
///
/// @code
/// boost::asio::io_context io;                      // the store's completions
/// auto store = std::make_shared<sessionkit::memory_store>(io.get_executor());
/// auto work = boost::asio::make_work_guard(io);
/// std::thread io_thread([&] { io.run(); });
///
/// auto engine = std::make_shared<const sessionkit::engine>(options, store);
/// sessionkit::httplib::sessions with_session(engine);
///
/// httplib::Server svr;
/// svr.Get("/counter", with_session([](const httplib::Request&, httplib::Response& res,
///                                     sessionkit::httplib::context& c) {
///   auto& count = (*c.session())["count"];
///   count = count.is_int64() ? count.get_int64() + 1 : 1;
///   res.set_content("count is " + std::to_string(count.get_int64()), "text/plain");
/// }));
/// svr.listen("127.0.0.1", 3000);
/// @endcode
///
/// Routes that are not wrapped have no session and cost nothing. A handler that throws leaves
/// the session unsaved (httplib answers 500).

#include <sessionkit/adapter.hpp>
#include <sessionkit/engine.hpp>

#include <httplib.h>

#include <functional>
#include <memory>
#include <system_error>
#include <utility>

namespace sessionkit::httplib {

/// Options of the adapter; the session options are the engine's.
struct options {
  /// Treat `X-Forwarded-Proto: https` from the client as a secure request (Express's
  /// `trust proxy`); only behind a proxy that sets it. Used when the engine's `proxy` is unset.
  bool trust_proxy = false;
};

/// The session side of one request, given to a wrapped handler next to httplib's request and
/// response: `session()` (nullptr when the path is outside the cookie's path or the session was
/// destroyed or unset), `unset_session()`, `driver()`.
using context = adapter::session_handle;

/// A route handler that gets the session.
using handler = std::function<void(const ::httplib::Request&, ::httplib::Response&, context&)>;

/// Wraps `h` into an httplib handler with a session (express-session's `session(options)` for
/// one route): before `h` the session is loaded from the store; after it, the store operation
/// express-session would do runs and its `Set-Cookie` is added to the response. Both wait on the
/// calling (httplib worker) thread. When the store fails, the response becomes a 503 (store
/// unavailable, with `Retry-After`) or 500 with a plain-text reason, and no cookie is sent.
///
/// The request's path is its raw target without the query, as express-session sees it.
/// @throws std::invalid_argument when `engine` or `h` is empty
SESSIONKIT_API ::httplib::Server::Handler session_handler(
    std::shared_ptr<const sessionkit::engine> engine, handler h, options opts = {});

/// `session_handler` with the engine and options bound: `svr.Get(path, with_session(h))`.
class sessions {
 public:
  /// @throws std::invalid_argument when `engine` is empty
  explicit sessions(std::shared_ptr<const sessionkit::engine> engine, options opts = {});

  /// `session_handler(engine, h, options)`.
  ::httplib::Server::Handler operator()(handler h) const {
    return session_handler(engine_, std::move(h), opts_);
  }

  const sessionkit::engine& engine() const noexcept { return *engine_; }

 private:
  std::shared_ptr<const sessionkit::engine> engine_;
  options opts_;
};

/// @name Blocking forms of the session's methods
/// For handlers on httplib's worker threads: each starts the operation and waits for the
/// store's completion. Never call them on a thread the store completes on (its executor's):
/// that would wait for itself.
/// @{

/// `req.session.save()`. @return the store's error, if any
SESSIONKIT_API std::error_code save(sessionkit::session& s);
/// `req.session.reload()`. @return the store's error (`error::failed_to_load_session` when the
/// record is gone)
SESSIONKIT_API std::error_code reload(sessionkit::session& s);
/// `req.session.regenerate()` (call it on login). @return the store's error, if any
SESSIONKIT_API std::error_code regenerate(sessionkit::session& s);
/// `req.session.renew()`: a new id, the data kept. @return the store's error, if any
SESSIONKIT_API std::error_code renew(sessionkit::session& s);
/// `req.session.destroy()`; the request has no session afterwards. @return the store's error
SESSIONKIT_API std::error_code destroy(sessionkit::session& s);
/// `engine::sessions_of`: the user's sessions, oldest login first. @return the store's error too
SESSIONKIT_API std::pair<std::error_code, std::vector<user_session>> sessions_of(const sessionkit::engine& e,
                                                                                 std::string_view user);
/// `engine::destroy_all_of` ("log out everywhere"). @return the store's error, how many ended
SESSIONKIT_API std::pair<std::error_code, std::size_t> destroy_all_of(const sessionkit::engine& e,
                                                                      std::string_view user, std::string_view keep_id);
/// @}

}  // namespace sessionkit::httplib
