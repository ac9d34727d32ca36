#pragma once
/// @file restinio.hpp
/// sessionkit on RESTinio (0.6.13 or later, on Boost.Asio: `RESTINIO_USE_BOOST_ASIO`, which the
/// `sessionkit::restinio` CMake target sets): a session layer in front of a RESTinio request
/// handler, usually an express router, with the session carried in the request's extra data.
///
/// RESTinio handlers answer asynchronously, and so does the session layer: it returns
/// `request_accepted()` at once, loads the session from the store, then runs the wrapped handler
/// (on `options::executor` when set). The handler answers with
/// `sessionkit::restinio::done(req, response)` instead of `response.done()`: the session is saved
/// first, then the response goes out with its `Set-Cookie`.
///
/// @code
/// namespace skr = sessionkit::restinio;
/// using router_t = skr::router<>;
/// struct traits : restinio::default_traits_t {
///   using extra_data_factory_t = skr::extra_data_factory;
///   using request_handler_t = skr::handler<>;
/// };
///
/// auto router = std::make_shared<router_t>();
/// router->http_get("/counter", [](const skr::request_handle& req, auto) {
///   auto& count = (*skr::session(req))["count"];
///   count = count.is_int64() ? count.get_int64() + 1 : 1;
///   return skr::done(req, req->create_response().set_body(
///                             "count is " + std::to_string(count.get_int64())));
/// });
///
/// boost::asio::io_context io;  // RESTinio and the store share it
/// auto store = std::make_shared<sessionkit::memory_store>(io.get_executor());
/// auto engine = std::make_shared<const sessionkit::engine>(options, store);
/// restinio::http_server_t<traits> server{restinio::external_io_context(io), [&](auto& s) {
///   s.port(3000).address("127.0.0.1").request_handler(skr::session_handler(
///       engine, [router](const skr::request_handle& req) { return (*router)(req); },
///       {io.get_executor()}));
/// }};
/// @endcode
///
/// Routes that must not have a session go before the session layer in a
/// `restinio::sync_chain::fixed_size_chain_t` (see the example).
///
/// Your own extra data works too: derive it from `request_data`, or put `request_data` in the
/// `std::tuple` RESTinio's chains use, and pass its type as the `ExtraData` parameter.

#if !defined(RESTINIO_USE_BOOST_ASIO)
#error "sessionkit::restinio needs RESTinio on Boost.Asio: define RESTINIO_USE_BOOST_ASIO"
#endif

#include <sessionkit/adapter.hpp>
#include <sessionkit/engine.hpp>
#include <sessionkit/log.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <restinio/all.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

namespace sessionkit::restinio {

/// Options of the session layer; the session options are the engine's.
struct options {
  /// Where the wrapped handler runs once the session is loaded (the server's `io_context`,
  /// say). Empty: on the thread the store completes on.
  boost::asio::any_io_executor executor;
  /// Treat `X-Forwarded-Proto: https` from the client as a secure request (Express's
  /// `trust proxy`); only behind a proxy that sets it. Used when the engine's `proxy` is unset.
  bool trust_proxy = false;
  /// The server runs TLS (RESTinio's request does not say): every request is secure.
  bool tls = false;
};

/// What sessionkit keeps in each request (RESTinio's per-request extra data): the session side
/// of the request (`session()`, `unset_session()`, `driver()`), set by the session layer.
using request_data = adapter::session_handle;

/// The extra-data factory for servers whose requests carry only `request_data`:
/// `using extra_data_factory_t = sessionkit::restinio::extra_data_factory;` in the traits.
using extra_data_factory = ::restinio::simple_extra_data_factory_t<request_data>;

/// A request carrying `ExtraData`.
template <class ExtraData = request_data>
using generic_request_handle = ::restinio::generic_request_handle_t<ExtraData>;
/// A request carrying `request_data`.
using request_handle = generic_request_handle<>;

/// A request handler (RESTinio's chains and servers take this signature).
template <class ExtraData = request_data>
using handler = std::function<::restinio::request_handling_status_t(const generic_request_handle<ExtraData>&)>;

/// RESTinio's express router for requests carrying `ExtraData`.
template <class ExtraData = request_data>
using router = ::restinio::router::generic_express_router_t<
    ::restinio::router::std_regex_engine_t, ::restinio::simple_extra_data_factory_t<ExtraData>>;

/// The response the session layer completes (`create_response()`'s default).
using response = ::restinio::response_builder_t<::restinio::restinio_controlled_output_t>;

/// @name Finding `request_data` in a request's extra data
/// Overload `session_data` (found by ADL) for other layouts.
/// @{
inline request_data& session_data(request_data& d) noexcept { return d; }
template <class... Ts>
request_data& session_data(std::tuple<Ts...>& t) noexcept { return std::get<request_data>(t); }
/// @}

/// The request's session, or nullptr (see `request_data::session`).
template <class ExtraData>
sessionkit::session* session(const generic_request_handle<ExtraData>& req) noexcept {
  return session_data(req->extra_data()).session();
}

/// `req.session = null` (see `options::unset`).
template <class ExtraData>
void unset_session(const generic_request_handle<ExtraData>& req) noexcept {
  session_data(req->extra_data()).unset_session();
}

namespace detail {

/// Reads the request's path, cookies and protocol and starts its session.
SESSIONKIT_API std::shared_ptr<request_driver> begin(const sessionkit::engine& engine,
                                                     const ::restinio::http_request_header_t& header,
                                                     const options& opts);

/// Loads the session; `then` runs on `opts.executor` when set (whatever the store), else where
/// the driver completes (inside the call with a store that answers at once).
SESSIONKIT_API void load(const std::shared_ptr<request_driver>& driver, const options& opts,
                         sessionkit::detail::unique_function<void(std::error_code)> then);

/// Turns `resp` into the 503 (store unavailable) or 500 answer for a store error.
SESSIONKIT_API void fail(response& resp, std::error_code ec);

/// Ends the session (save / touch / destroy), then adds `Set-Cookie` to `resp` (or turns it
/// into the store error's answer) and sends it. `keep` stays alive until then.
SESSIONKIT_API void end_and_send(std::shared_ptr<request_driver> driver, response resp,
                                 ::restinio::write_status_cb_t after_write,
                                 std::shared_ptr<const void> keep);

/// Answers a request whose handler did not (it returned `not_handled` or `rejected`, or threw):
/// 501 as RESTinio does, or 500 after an exception.
SESSIONKIT_API void answer_unhandled(response resp, bool exception);

}  // namespace detail

/// Sends `resp` (in place of `resp.done()`), once the session's store operation is done:
/// express-session's end of the request. Adds the session's `Set-Cookie`; when the store fails,
/// the response becomes a 503 (store unavailable, with `Retry-After`) or 500 with a plain-text
/// reason and no cookie. Without a session layer it is just `resp.done(after_write)`.
/// May be called from any thread, once per request.
/// @param after_write called when the response is written (RESTinio's `done()` callback)
/// @return `request_accepted()`
template <class ExtraData>
::restinio::request_handling_status_t done(const generic_request_handle<ExtraData>& req, response resp,
                                           ::restinio::write_status_cb_t after_write = {}) {
  request_data& data = session_data(req->extra_data());
  auto driver = data.shared_driver();
  if (!driver) return resp.done(std::move(after_write));
  detail::end_and_send(std::move(driver), std::move(resp), std::move(after_write), req);
  return ::restinio::request_accepted();
}

/// The session layer (express-session's `session(options)`) in front of `next`: starts the
/// request's session, loads it from the store and then runs `next`, which answers with
/// `sessionkit::restinio::done()`. Requests outside the cookie's path go straight to `next`.
/// When loading fails the answer is a 503 (store unavailable) or 500 and `next` does not run.
/// If `next` does not accept the request, the answer is RESTinio's 501.
/// @throws std::invalid_argument when `engine` or `next` is empty
template <class ExtraData = request_data>
handler<ExtraData> session_handler(std::shared_ptr<const sessionkit::engine> engine,
                                   std::type_identity_t<handler<ExtraData>> next, options opts = {}) {
  if (!engine) throw std::invalid_argument("sessionkit::restinio::session_handler: no engine");
  if (!next) throw std::invalid_argument("sessionkit::restinio::session_handler: no handler");
  using handle = generic_request_handle<ExtraData>;
  auto shared_next = std::make_shared<const handler<ExtraData>>(std::move(next));

  // Runs `next` with the session in place; it answers itself, or we answer for it.
  auto run = [](const handler<ExtraData>& next, const handle& req) {
    ::restinio::request_handling_status_t status = ::restinio::request_not_handled();
    bool threw = false;
    try {
      status = next(req);
    } catch (const std::exception& e) {
      sessionkit::log(sessionkit::log_level::error, std::string("request handler failed: ") + e.what());
      threw = true;
    } catch (...) {
      sessionkit::log(sessionkit::log_level::error, "request handler failed");
      threw = true;
    }
    if (status == ::restinio::request_accepted() && !threw) return;
    try {
      detail::answer_unhandled(req->create_response(), threw);
    } catch (...) {
      // The handler had taken the response already (and threw after): RESTinio's request
      // timeout closes the connection.
    }
  };

  return [engine = std::move(engine), shared_next, opts, run](const handle& req) {
    auto driver = detail::begin(*engine, req->header(), opts);
    if (driver->first_step() == request_driver::step::skip) return (*shared_next)(req);
    detail::load(driver, opts, [req, driver, shared_next, run](std::error_code ec) mutable {
      if (ec) {
        auto resp = req->create_response();
        detail::fail(resp, ec);
        resp.done();
        return;
      }
      session_data(req->extra_data()).set_driver(std::move(driver));
      run(*shared_next, req);
    });
    return ::restinio::request_accepted();
  };
}

}  // namespace sessionkit::restinio
