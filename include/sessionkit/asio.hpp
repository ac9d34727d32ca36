#pragma once
/// @file asio.hpp
/// Asio completion-token forms of the session operations: `co_await async_save(s,
/// asio::use_awaitable)`, callbacks, futures, ... Completions are always delivered through the
/// caller's associated executor (never inside the initiating call), whatever thread the store
/// completes on.

#include <sessionkit/engine.hpp>
#include <sessionkit/session.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace sessionkit {
namespace detail {

// Wraps an Asio handler so the store may complete it from any thread: keeps its executor busy
// while the operation runs, then posts the result to it.
template <class Handler>
class asio_completion {
 public:
  explicit asio_completion(Handler h)
      : work_(boost::asio::make_work_guard(h)), handler_(std::move(h)) {}

  template <class... Args>
  void operator()(Args&&... args) {
    auto executor = work_.get_executor();
    boost::asio::post(executor, boost::asio::append(std::move(handler_), std::forward<Args>(args)...));
    work_.reset();
  }

 private:
  boost::asio::executor_work_guard<boost::asio::associated_executor_t<Handler>> work_;
  Handler handler_;
};

template <class Signature, class Token, class Start>
auto async_start(Token&& token, Start start) {
  return boost::asio::async_initiate<Token, Signature>(
      [start = std::move(start)](auto handler) mutable {
        start(asio_completion<decltype(handler)>(std::move(handler)));
      },
      token);
}

}  // namespace detail

/// Reads the request's session from the store (`session_context::load`).
/// Completion: `void(std::error_code)`.
template <class Token>
auto async_load(session_context& context, Token&& token) {
  return detail::async_start<void(std::error_code)>(
      std::forward<Token>(token), [&context](auto done) { context.load(std::move(done)); });
}

/// Ends the request (`session_context::end`): save / touch / destroy as express-session would.
/// Completion: `void(std::error_code, std::optional<std::string> set_cookie)`.
template <class Token>
auto async_end(session_context& context, Token&& token) {
  return detail::async_start<void(std::error_code, std::optional<std::string>)>(
      std::forward<Token>(token), [&context](auto done) { context.end(std::move(done)); });
}

/// `req.session.save(cb)`. Completion: `void(std::error_code)`.
template <class Token>
auto async_save(session& s, Token&& token) {
  return detail::async_start<void(std::error_code)>(std::forward<Token>(token),
                                                    [&s](auto done) { s.save(std::move(done)); });
}

/// `req.session.reload(cb)`. Completion: `void(std::error_code)`.
template <class Token>
auto async_reload(session& s, Token&& token) {
  return detail::async_start<void(std::error_code)>(std::forward<Token>(token),
                                                    [&s](auto done) { s.reload(std::move(done)); });
}

/// `req.session.regenerate(cb)`. Completion: `void(std::error_code)`.
template <class Token>
auto async_regenerate(session& s, Token&& token) {
  return detail::async_start<void(std::error_code)>(
      std::forward<Token>(token), [&s](auto done) { s.regenerate(std::move(done)); });
}

/// `req.session.destroy(cb)`. Completion: `void(std::error_code)`.
template <class Token>
auto async_destroy(session& s, Token&& token) {
  return detail::async_start<void(std::error_code)>(
      std::forward<Token>(token), [&s](auto done) { s.destroy(std::move(done)); });
}

}  // namespace sessionkit
