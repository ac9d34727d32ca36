#pragma once
/// @file sqlite_store.hpp
/// Sessions in an SQLite file: persistent with no server to run. WAL mode, an index on expiry
/// and periodic pruning; safe from several threads and several processes on one file (busy
/// timeout). The blocking SQLite work runs on the store's own thread, never on the caller's.

#include <sessionkit/store.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace sessionkit {

/// Options of `sqlite_store`.
struct sqlite_store_options {
  std::string path;  ///< the database file (created if missing); ":memory:" for a private one
  /// How often expired sessions are deleted.
  std::chrono::milliseconds prune_interval{std::chrono::seconds(60)};
  /// Lifetime of sessions whose cookie has no expiry (like connect-redis's default TTL).
  std::chrono::milliseconds ttl_without_expiry{std::chrono::hours(24)};
  /// How long a write waits for another process holding the database lock.
  std::chrono::milliseconds busy_timeout{std::chrono::seconds(5)};
};

/// Parses `sqlite:PATH` (the example's `--store` form).
/// @throws std::invalid_argument when the text is not `sqlite:` followed by a path
SESSIONKIT_API sqlite_store_options parse_sqlite_url(std::string_view url);

/// A store on SQLite. Completions run on `executor`.
class SESSIONKIT_API sqlite_store final : public store {
 public:
  /// Opens (and if needed creates) the database.
  /// @throws std::runtime_error when the file cannot be opened or set up
  sqlite_store(boost::asio::any_io_executor executor, sqlite_store_options options);
  ~sqlite_store() override;

  void get(std::string_view id, get_handler handler) override;
  void set(std::string_view id, session_record record, completion_handler handler) override;
  bool has_conditional_set() const noexcept override { return true; }
  /// One statement: `UPDATE ... WHERE` a live row / `INSERT ... ON CONFLICT` only over an expired one.
  void set_if(std::string_view id, session_record record, write_condition condition,
              completion_handler handler) override;
  void destroy(std::string_view id, completion_handler handler) override;
  bool has_touch() const noexcept override { return true; }
  void touch(std::string_view id, session_record record, completion_handler handler) override;
  /// Locks are rows of a `session_locks` table in the same file (every process on the file
  /// shares them), taken and released in the transactions that read and write the session.
  bool has_locks() const noexcept override { return true; }
  void lock_and_get(std::string_view id, lock_claim claim, lock_handler handler) override;
  void write_and_unlock(std::string_view id, std::string_view owner, locked_write write,
                        completion_handler handler) override;
  void defer_for(std::chrono::milliseconds delay, detail::unique_function<void()> fn) override;
  /// One `UPDATE ... WHERE record = expected`.
  bool has_compare_and_set() const noexcept override { return true; }
  void compare_and_set(std::string_view id, std::string_view expected, session_record record,
                       compare_and_set_handler handler) override;
  /// The user index is an indexed `user` column of the sessions table.
  bool has_user_index() const noexcept override { return true; }
  void sessions_of(std::string_view user, sessions_handler handler) override;
  void all(all_handler handler) override;
  void ids(ids_handler handler) override;
  void length(length_handler handler) override;
  void clear(completion_handler handler) override;
  /// Pages in id order (the cursor is the last id of the previous page).
  void page(std::string_view cursor, std::size_t size, page_handler handler) override;
  void defer(detail::unique_function<void()> fn) override;

  /// Deletes expired sessions now (on the store's thread); completes with how many.
  void prune(detail::unique_function<void(std::error_code, std::size_t)> handler);

  /// Finishes the work queued so far, then refuses new work (`error::shut_down`) and closes the
  /// database. Waits for the store's thread.
  void shutdown() override;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace sessionkit
