#pragma once
/// @file asio.hpp
/// Asio completion-token forms of the request's and the session's operations:
/// `co_await async_load(driver, asio::use_awaitable)`, callbacks, futures, ...
///
/// When the store answers at once (`request_driver::completes_at_once()`, MemoryStore) the
/// completion runs inside the initiating call: a coroutine simply continues, with no trip
/// through the executor. Otherwise it is delivered through the caller's associated executor,
/// whatever thread the store completes on. Per-operation cancellation is not supported: a store
/// operation cannot be taken back once sent (each completes within the store's own timeouts),
/// so a cancellation request is ignored and the operation completes normally.

#include <sessionkit/request_driver.hpp>
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

// The operation this thread is initiating (its driver or session), so that a completion can
// tell "inside the initiating call" (run now) from "later, maybe on another thread" (post).
inline const void*& initiating_on_this_thread() noexcept {
  thread_local const void* current = nullptr;
  return current;
}

// Wraps an Asio handler so the driver may complete it inside the initiating call or later from
// any thread: now in the first case; in the second it keeps the handler's executor busy while
// the operation runs, then posts the result to it.
template <class Handler>
class asio_completion {
 public:
  asio_completion(Handler h, const void* source)
      : work_(boost::asio::make_work_guard(h)), handler_(std::move(h)), source_(source) {}

  template <class... Args>
  void operator()(Args&&... args) {
    if (initiating_on_this_thread() == source_) {
      work_.reset();
      std::move(handler_)(std::forward<Args>(args)...);
      return;
    }
    auto executor = work_.get_executor();
    boost::asio::post(executor, boost::asio::append(std::move(handler_), std::forward<Args>(args)...));
    work_.reset();
  }

 private:
  boost::asio::executor_work_guard<boost::asio::associated_executor_t<Handler>> work_;
  Handler handler_;
  const void* source_;
};

template <class Signature, class Token, class Start>
auto async_start(Token&& token, const void* source, Start start) {
  return boost::asio::async_initiate<Token, Signature>(
      [source, start = std::move(start)](auto handler) mutable {
        const void* outer = std::exchange(initiating_on_this_thread(), source);
        struct restore {
          const void* outer;
          ~restore() { initiating_on_this_thread() = outer; }
        } guard{outer};
        start(asio_completion<decltype(handler)>(std::move(handler), source));
      },
      token);
}

}  // namespace detail

/// Loads the request's session (`request_driver::load`). Completion: `void(std::error_code)`.
template <class Token>
auto async_load(request_driver& driver, Token&& token) {
  return detail::async_start<void(std::error_code)>(
      std::forward<Token>(token), &driver, [&driver](auto done) { driver.load(std::move(done)); });
}

/// Ends the request (`request_driver::end`): save / touch / destroy as express-session would.
/// Completion: `void(std::error_code, std::optional<std::string> set_cookie)`.
template <class Token>
auto async_end(request_driver& driver, Token&& token) {
  return detail::async_start<void(std::error_code, std::optional<std::string>)>(
      std::forward<Token>(token), &driver, [&driver](auto done) { driver.end(std::move(done)); });
}

/// `req.session.save(cb)`. Completion: `void(std::error_code)`.
template <class Token>
auto async_save(session& s, Token&& token) {
  return detail::async_start<void(std::error_code)>(std::forward<Token>(token), &s,
                                                    [&s](auto done) { s.save(std::move(done)); });
}

/// `req.session.reload(cb)`. Completion: `void(std::error_code)`.
template <class Token>
auto async_reload(session& s, Token&& token) {
  return detail::async_start<void(std::error_code)>(std::forward<Token>(token), &s,
                                                    [&s](auto done) { s.reload(std::move(done)); });
}

/// `req.session.regenerate(cb)`. Completion: `void(std::error_code)`.
template <class Token>
auto async_regenerate(session& s, Token&& token) {
  return detail::async_start<void(std::error_code)>(
      std::forward<Token>(token), &s, [&s](auto done) { s.regenerate(std::move(done)); });
}

/// `req.session.destroy(cb)`. Completion: `void(std::error_code)`.
template <class Token>
auto async_destroy(session& s, Token&& token) {
  return detail::async_start<void(std::error_code)>(
      std::forward<Token>(token), &s, [&s](auto done) { s.destroy(std::move(done)); });
}

}  // namespace sessionkit
