#pragma once
/// @file asio.hpp
/// Asio completion-token forms of the request's and the session's operations:
/// `co_await async_load(driver, asio::use_awaitable)`, callbacks, futures, ...
///
/// When the driver completes inside the call (no store call needed, or a store that answers at
/// once: MemoryStore) the completion is dispatched to the caller's associated executor: a
/// coroutine running there simply continues, with no trip through the executor's queue. So is
/// a later completion from a store whose completions may continue inline
/// (`store::continuations_may_run_inline`: RedisStore), when it runs on a thread of that
/// executor. Otherwise it is posted to that executor, whatever thread the store completes on.
///
/// Per-operation cancellation (`asio::cancellation_type::terminal`, `partial` or `total`, through
/// the handler's cancellation slot, as `asio::experimental::awaitable_operators` or a bound
/// cancellation signal emit it) completes the wait at once with `std::errc::operation_canceled`
/// and abandons the request's waits (`request_driver::abandon_waits()`): a late answer to a load,
/// reload or regenerate is dropped, never applied behind the caller's back. A store call once
/// sent still runs to its end (within the store's own timeouts), so a cancelled save may still
/// be stored.

#include <sessionkit/engine.hpp>
#include <sessionkit/request_driver.hpp>
#include <sessionkit/session.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
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
// any thread: dispatched to the handler's executor in the first case (run now when already
// there); in the second it keeps that executor busy while the operation runs, then posts the
// result to it (dispatches it, when the store lets a completion continue inline). When the handler has a cancellation slot, the handler moves to a shared place
// that a cancellation and the store's completion race for: the first one completes it, the
// other finds it gone.
template <class Handler, class... Results>  // completes with (std::error_code, Results...)
class asio_completion {
  using executor_type = boost::asio::associated_executor_t<Handler>;
  using work_guard = boost::asio::executor_work_guard<executor_type>;

  struct shared_handler {
    shared_handler(Handler h) : work(boost::asio::make_work_guard(h)), handler(std::move(h)) {}
    work_guard work;
    Handler handler;
    std::atomic<bool> taken{false};
  };

 public:
  asio_completion(Handler h, const void* source, request_driver* driver)
      : source_(source), inline_later_(driver && driver->continuations_may_run_inline()) {
    auto slot = boost::asio::get_associated_cancellation_slot(h);
    if (!slot.is_connected()) {
      work_.emplace(boost::asio::make_work_guard(h));
      handler_.emplace(std::move(h));
      return;
    }
    shared_ = std::make_shared<shared_handler>(std::move(h));
    slot.assign([weak = std::weak_ptr<shared_handler>(shared_), driver](boost::asio::cancellation_type) {
      auto s = weak.lock();
      if (!s || s->taken.exchange(true)) return;  // completed already
      if (driver) driver->abandon_waits();       // a late answer must not land behind the caller
      deliver(s->work, std::move(s->handler), cancelled());
    });
  }

  template <class... Args>
  void operator()(Args&&... args) {
    if (shared_) {
      if (shared_->taken.exchange(true)) return;  // cancelled first
      deliver(shared_->work, std::move(shared_->handler), std::forward<Args>(args)...);
      return;
    }
    if (inline_later_ || initiating_on_this_thread() == source_) {
      // The handler and its work move to locals first: running it may end whatever owns this
      // object, and the work is released only after it ran, as dispatch does.
      work_guard work = std::move(*work_);
      work_.reset();
      Handler handler = std::move(*handler_);
      handler_.reset();
      auto executor = work.get_executor();
      if (runs_here(executor)) {
        // What dispatch does on this thread, without the executor copies it makes through the
        // type-erased executor's properties (two allocations per request).
        std::move(handler)(std::forward<Args>(args)...);
        return;
      }
      boost::asio::dispatch(executor, boost::asio::append(std::move(handler), std::forward<Args>(args)...));
      return;
    }
    deliver(*work_, std::move(*handler_), std::forward<Args>(args)...);
  }

 private:
  struct cancelled {};  // completes with `operation_canceled` and empty results

  // Whether a handler on `executor` may run right here: an io_context's plain executor (a
  // coroutine's, on a one-thread server) that this thread is running. Anything else (strands,
  // other executors) goes through dispatch, which decides the same for them.
  static bool runs_here(const executor_type& executor) noexcept {
    if constexpr (std::is_same_v<executor_type, boost::asio::any_io_executor>) {
      const auto* io = executor.template target<boost::asio::io_context::executor_type>();
      return io && io->running_in_this_thread();
    } else {
      return false;
    }
  }

  template <class... Args>
  static void deliver(work_guard& work, Handler&& handler, Args&&... args) {
    auto executor = work.get_executor();
    boost::asio::post(executor, boost::asio::append(std::move(handler), std::forward<Args>(args)...));
    work.reset();
  }

  static void deliver(work_guard& work, Handler&& handler, cancelled) {
    auto executor = work.get_executor();
    boost::asio::post(executor, boost::asio::append(std::move(handler),
                                                    std::make_error_code(std::errc::operation_canceled),
                                                    Results{}...));
    work.reset();
  }

  const void* source_;
  bool inline_later_;  // a later completion is dispatched too (the store allows it)
  std::optional<work_guard> work_;
  std::optional<Handler> handler_;
  std::shared_ptr<shared_handler> shared_;
};

template <class... Results, class Token, class Start>
auto async_start(Token&& token, const void* source, request_driver* driver, Start start) {
  return boost::asio::async_initiate<Token, void(std::error_code, Results...)>(
      [source, driver, start = std::move(start)](auto handler) mutable {
        const void* outer = std::exchange(initiating_on_this_thread(), source);
        struct restore {
          const void* outer;
          ~restore() { initiating_on_this_thread() = outer; }
        } guard{outer};
        start(asio_completion<decltype(handler), Results...>(std::move(handler), source, driver));
      },
      token);
}

}  // namespace detail

/// Loads the request's session (`request_driver::load`). Completion: `void(std::error_code)`.
template <class Token>
auto async_load(request_driver& driver, Token&& token) {
  return detail::async_start<>(
      std::forward<Token>(token), &driver, &driver, [&driver](auto done) { driver.load(std::move(done)); });
}

/// Ends the request (`request_driver::end`): save / touch / destroy as express-session would.
/// Completion: `void(std::error_code, std::optional<std::string> set_cookie)`.
template <class Token>
auto async_end(request_driver& driver, Token&& token) {
  return detail::async_start<std::optional<std::string>>(
      std::forward<Token>(token), &driver, &driver, [&driver](auto done) { driver.end(std::move(done)); });
}

/// `req.session.save(cb)`. Completion: `void(std::error_code)`.
template <class Token>
auto async_save(session& s, Token&& token) {
  return detail::async_start<>(std::forward<Token>(token), &s, s.driver(),
                                [&s](auto done) { s.save(std::move(done)); });
}

/// `req.session.reload(cb)`. Completion: `void(std::error_code)`.
template <class Token>
auto async_reload(session& s, Token&& token) {
  return detail::async_start<>(std::forward<Token>(token), &s, s.driver(),
                                [&s](auto done) { s.reload(std::move(done)); });
}

/// `req.session.regenerate(cb)`. Completion: `void(std::error_code)`.
template <class Token>
auto async_regenerate(session& s, Token&& token) {
  return detail::async_start<>(
      std::forward<Token>(token), &s, s.driver(), [&s](auto done) { s.regenerate(std::move(done)); });
}

/// `req.session.renew(cb)`: a new id, the data kept. Completion: `void(std::error_code)`.
template <class Token>
auto async_renew(session& s, Token&& token) {
  return detail::async_start<>(
      std::forward<Token>(token), &s, s.driver(), [&s](auto done) { s.renew(std::move(done)); });
}

/// `req.session.destroy(cb)`. Completion: `void(std::error_code)`.
template <class Token>
auto async_destroy(session& s, Token&& token) {
  return detail::async_start<>(
      std::forward<Token>(token), &s, s.driver(), [&s](auto done) { s.destroy(std::move(done)); });
}

/// `engine::sessions_of`. Completion: `void(std::error_code, std::vector<user_session>)`.
template <class Token>
auto async_sessions_of(const engine& e, std::string_view user, Token&& token) {
  return detail::async_start<std::vector<user_session>>(
      std::forward<Token>(token), &e, nullptr,
      [&e, u = std::string(user)](auto done) { e.sessions_of(u, std::move(done)); });
}

/// `engine::destroy_all_of` ("log out everywhere"). Completion: `void(std::error_code, std::size_t)`.
template <class Token>
auto async_destroy_all_of(const engine& e, std::string_view user, std::string_view keep_id, Token&& token) {
  return detail::async_start<std::size_t>(
      std::forward<Token>(token), &e, nullptr,
      [&e, u = std::string(user), k = std::string(keep_id)](auto done) { e.destroy_all_of(u, k, std::move(done)); });
}

}  // namespace sessionkit
