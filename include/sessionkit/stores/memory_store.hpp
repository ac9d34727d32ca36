#pragma once
/// @file memory_store.hpp
/// An in-process store: thread-safe, expiring, pruned in the background. For development and
/// single-process deployments; sessions do not survive a restart and are not shared.

#include <sessionkit/store.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <memory>

namespace sessionkit {

/// Options of `memory_store`.
struct memory_store_options {
  /// How often expired sessions are removed in the background.
  std::chrono::milliseconds prune_interval{std::chrono::seconds(60)};
  /// Lifetime of sessions whose cookie has no expiry (browser-session cookies); like
  /// connect-redis's default TTL. Express's MemoryStore keeps them forever, and leaks.
  std::chrono::milliseconds ttl_without_expiry{std::chrono::hours(24)};
  /// Sessions held at most; 0: no limit. At the limit, expired sessions and sessions that hold
  /// no data (what a cookieless request makes) go first; sessions with data are never evicted:
  /// once only they are left, new sessions are refused with `error::store_full` (a 503 with
  /// `Retry-After`) while existing ones keep working.
  std::size_t max_sessions = 1'000'000;
  /// Bytes of session records held at most (their JSON length); 0: no limit. The same policy as
  /// `max_sessions`; an existing session may not grow past it either.
  std::size_t max_bytes = std::size_t(256) * 1024 * 1024;
};

/// Sessions in memory, as their JSON records, sharded by id so threads rarely contend; every
/// operation costs the same however many sessions are stored. Bounded: see
/// `memory_store_options::max_sessions` and `max_bytes`. `get` never returns an expired
/// session; a timer removes expired ones every `prune_interval`.
class SESSIONKIT_API memory_store final : public store, private immediate_store {
 public:
  /// @param executor where completions run and where the pruning timer lives
  explicit memory_store(boost::asio::any_io_executor executor, memory_store_options opts = {});
  ~memory_store() override;

  void get(std::string_view id, get_handler handler) override;
  void set(std::string_view id, session_record record, completion_handler handler) override;
  bool has_conditional_set() const noexcept override { return true; }
  void set_if(std::string_view id, session_record record, write_condition condition,
              completion_handler handler) override;
  void destroy(std::string_view id, completion_handler handler) override;
  bool has_touch() const noexcept override { return true; }
  void touch(std::string_view id, session_record record, completion_handler handler) override;
  /// Every call is answered at once (the data is in this process).
  immediate_store* immediate() noexcept override { return this; }
  /// Locks live beside the sessions, in this process: requests of one process are serialised.
  bool has_locks() const noexcept override { return true; }
  void lock_and_get(std::string_view id, lock_claim claim, lock_handler handler) override;
  void write_and_unlock(std::string_view id, std::string_view owner, locked_write write,
                        completion_handler handler) override;
  void defer_for(std::chrono::milliseconds delay, detail::unique_function<void()> fn) override;
  bool has_compare_and_set() const noexcept override { return true; }
  void compare_and_set(std::string_view id, std::string_view expected, session_record record,
                       compare_and_set_handler handler) override;
  /// The user index is kept in memory beside the sessions (only logged-in sessions cost anything).
  bool has_user_index() const noexcept override { return true; }
  void sessions_of(std::string_view user, sessions_handler handler) override;
  void all(all_handler handler) override;
  void ids(ids_handler handler) override;
  void length(length_handler handler) override;
  void clear(completion_handler handler) override;
  /// A page is one or more whole shards (the cursor is the next shard's number).
  void page(std::string_view cursor, std::size_t size, page_handler handler) override;
  void defer(detail::unique_function<void()> fn) override;

  /// Removes expired sessions now.
  /// @return how many were removed
  std::size_t prune();

  /// Sessions held, expired ones not yet pruned included (for tests and metrics).
  std::size_t stored_count() const;
  /// Bytes of session records held, as counted against `max_bytes`.
  std::size_t stored_bytes() const;

  /// Stops the pruning timer (so the executor can run out of work). Nothing is ever in flight.
  void shutdown() override;

 private:
  get_result get_now(std::string_view id) override;
  std::error_code get_into_now(std::string_view id, std::string& buffer, bool& found) override;
  std::error_code set_now(std::string_view id, session_record record, write_condition condition) override;
  std::error_code touch_now(std::string_view id, session_record record) override;
  std::error_code destroy_now(std::string_view id) override;
  lock_result lock_and_get_now(std::string_view id, lock_claim claim) override;
  std::error_code write_and_unlock_now(std::string_view id, std::string_view owner, locked_write write) override;
  compare_and_set_result compare_and_set_now(std::string_view id, std::string_view expected,
                                             session_record record) override;
  std::error_code sessions_of_now(std::string_view user, std::vector<listed_session>& out) override;

  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace sessionkit
