#pragma once
/// @file request_driver.hpp
/// The request driver: the only code that calls a store on a request's behalf. It loads the
/// session before the handler runs, carries out the engine's end-of-request plan after it, and
/// implements the session's methods (`save`, `reload`, `regenerate`, `destroy`). Adapters make
/// one per request with `engine::begin()` and only translate their framework's request and
/// response.
///
/// Completions run inside the call when no store call is needed (no session on this path, a
/// new session, nothing to save) or the store answers at once (`store::immediate()`, as
/// MemoryStore does: no thread hop per request); otherwise later, on the store's completion
/// context. `completes_at_once()` says whether every completion of the request runs inside
/// the call.

#include <sessionkit/engine.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>

namespace sessionkit {

/// Drives one request's session against the engine's store. Used from one thread at a time.
class SESSIONKIT_API request_driver : public std::enable_shared_from_this<request_driver> {
 public:
  using step = session_state::step;
  /// Completion of `end`: the store error (the response must then fail, without the cookie),
  /// or the `Set-Cookie` value to append, if any.
  using end_handler = detail::unique_function<void(std::error_code, std::optional<std::string>)>;

  /// Reads the request's cookie. Use `engine::begin()`, which makes it shared (completions that
  /// run later keep the driver alive).
  /// @throws std::logic_error when the engine has no store
  request_driver(const engine& owner, const request_info& request);
  /// Releases the session's lock if the request still holds one (it ended without `end`).
  ~request_driver();
  request_driver(const request_driver&) = delete;
  request_driver& operator=(const request_driver&) = delete;

  /// What the request needs: no session (`skip`), a load, or nothing (`ready`, a new session);
  /// `unavailable` when the store is not ready.
  step first_step() const noexcept { return state_.first_step(); }

  /// Whether every completion of this request runs inside the initiating call (the store
  /// answers at once), rather than some later on the store's completion context.
  /// (Never with `concurrency_mode::lock`: waiting for a lock takes time.)
  bool completes_at_once() const noexcept { return immediate_ != nullptr && mode_ != concurrency_mode::lock; }

  /// Whether a completion that runs on the caller's executor may resume the caller inside it
  /// (`store::continuations_may_run_inline`).
  bool continuations_may_run_inline() const noexcept { return store_.continuations_may_run_inline(); }

  /// The caller stops waiting for this request's operations (a cancelled wait): late store
  /// answers of `load`, `reload` and `regenerate` are then dropped instead of applied to the
  /// session (their completions get `std::errc::operation_canceled`), so they cannot race with
  /// the caller. Writes already sent still happen. Thread-safe.
  void abandon_waits() noexcept;

  /// Loads the session when the cookie names one (a missing, expired or broken record gives a
  /// new session). Completes with the store's error (`error::store_unavailable` when the store
  /// is not ready: answer 503), or none. With `concurrency_mode::lock` it first takes the
  /// session's lock, waiting up to `options::lock_timeout` (`error::lock_timeout`).
  void load(completion_handler handler);

  /// Ends the request: save / touch / destroy as express-session would. Call once, after the
  /// handler; send the response only once this completes.
  void end(end_handler handler);

  /// After `end` completed without error, with a header transport (`options::transport`): the
  /// signed id to send in the `options::id_header` response header, when one is due.
  const std::optional<std::string>& id_header_value() const noexcept { return id_header_out_; }

  /// The session, or nullptr when there is none (path skipped, destroyed or unset).
  session* current() noexcept { return state_.current(); }

  /// `req.session = null` (see `options::unset`).
  void unset_session() noexcept { state_.unset_session(); }

  /// @name The session's methods (`session::save()` and the others call these)
  /// @{
  void save(completion_handler handler);
  void reload(completion_handler handler);
  void regenerate(completion_handler handler);
  void renew(completion_handler handler);
  void destroy(completion_handler handler);
  /// @}

  /// The decisions' state (for adapters and tests that need more than the session).
  session_state& state() noexcept { return state_; }
  const engine& owner() const noexcept { return state_.owner(); }

 private:
  using clock = std::chrono::steady_clock;
  std::error_code take_loaded(std::error_code ec, std::optional<std::string_view> json);
  void destroy_timed_out(const std::string& id);
  clock::time_point started() const noexcept;
  void observe(metrics::operation op, clock::time_point start, std::error_code ec) noexcept;
  void count_outcome(store_operation op, std::error_code ec) noexcept;
  void count_load(std::error_code ec) noexcept;
  // Applies a late store answer to the state unless the waits were abandoned.
  template <class F>
  std::error_code apply_late(F&& change);
  // lock: one attempt to take the lock and load, and its answer (waits and tries again).
  void try_lock(completion_handler handler, clock::time_point start, unsigned attempt);
  std::error_code take_lock_answer(lock_result answer, completion_handler& handler, clock::time_point start,
                                   unsigned attempt, bool& done);
  bool load_goes_on(std::error_code ec, completion_handler& handler);
  // The store's key for session `id` (engine::store_key), valid until the next call: every
  // store call names a session through it.
  std::string_view key(std::string_view id);
  // save(), with or without the `created` event of a first store.
  void store_now(completion_handler handler, bool announce);
  // renew: the old id's forward (or its destroy, with no grace).
  void leave_forward(const std::string& old_id, completion_handler handler);
  // After a write that logged `user` in: applies options::max_sessions_per_user.
  void after_login(const std::string& user, completion_handler handler);
  // Destroys `id`'s record; when this request holds its lock, destroyed and released in one step.
  void destroy_record(const std::string& id, completion_handler handler);
  // lock: releases the lock without writing (the write went elsewhere, or none is needed).
  void release_lock() noexcept;
  // Whether a write to `id` carries the request's lock with it (and so releases it).
  bool holds_lock_of(std::string_view id) const noexcept { return !locked_id_.empty() && locked_id_ == id; }
  // merge: writes `record` over the record this request expects, merging on conflicts.
  void write_merged(session_record record, unsigned attempts_left, completion_handler done);
  std::error_code merge_answer(compare_and_set_result answer, std::string written, unsigned attempts_left,
                               session_record& retry);

  store& store_;
  immediate_store* immediate_;
  sessionkit::metrics* metrics_;  // null: nothing counted
  session_state state_;
  concurrency_mode mode_;
  // lock: the request's owner token, the id whose lock it holds (empty: none), the wait's end.
  std::string lock_owner_;
  std::optional<std::string> id_header_out_;  // see id_header_value()
  std::string locked_id_;
  std::string key_buffer_;  // see key()
  std::string login_;       // the user a write in flight logs in (options::max_sessions_per_user)
  clock::time_point lock_deadline_{};
  std::mutex late_answers_;  // orders late answers against abandon_waits()
  bool abandoned_ = false;
};

}  // namespace sessionkit
