#include <sessionkit/stores/sqlite_store.hpp>

#include <sessionkit/record.hpp>
#include <sessionkit/log.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sqlite3.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <thread>

namespace sessionkit {

sqlite_store_options parse_sqlite_url(std::string_view url) {
  if (url.rfind("sqlite:", 0) != 0 || url.size() == 7)
    throw std::invalid_argument("invalid SQLite store '" + std::string(url) + "': expected sqlite:PATH");
  sqlite_store_options o;
  o.path = std::string(url.substr(7));
  return o;
}

namespace {

long long ms_of(timestamp t) { return t.time_since_epoch().count(); }

// A prepared statement, reset after each use.
class statement {
 public:
  statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("SQLite: cannot prepare statement: ") + sqlite3_errmsg(db));
  }
  ~statement() { sqlite3_finalize(stmt_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  statement& bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), int(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Text, or NULL when empty (an optional text column).
  statement& bind_or_null(int i, std::string_view text) {
    if (text.empty()) sqlite3_bind_null(stmt_, i);
    else bind(i, text);
    return *this;
  }
  statement& bind(int i, long long v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  std::string text(int column) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, std::size_t(sqlite3_column_bytes(stmt_, column))) : std::string();
  }
  long long integer(int column) { return sqlite3_column_int64(stmt_, column); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

struct reset_guard {
  statement& s;
  ~reset_guard() { s.reset(); }
};

std::error_code error_from(int rc) {
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return error::store_unavailable;
  return error::store_failure;
}

}  // namespace

struct sqlite_store::impl : std::enable_shared_from_this<impl> {
  boost::asio::any_io_executor executor;
  sqlite_store_options options;
  sqlite3* db = nullptr;
  std::unique_ptr<statement> get_stmt, upsert_stmt, update_live_stmt, insert_absent_stmt, delete_stmt, prune_stmt,
      all_stmt, count_stmt, clear_stmt, page_stmt, take_lock_stmt, lock_holder_stmt, release_lock_stmt, cas_stmt,
      prune_locks_stmt, refresh_stmt, of_user_stmt;
  std::thread worker;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<detail::unique_function<void(bool run)>> jobs;  // run=false: shutting down
  bool stopping = false;
  boost::asio::steady_timer prune_timer;

  impl(boost::asio::any_io_executor ex, sqlite_store_options o)
      : executor(ex), options(std::move(o)), prune_timer(ex) {}

  ~impl() {
    get_stmt.reset(); upsert_stmt.reset(); update_live_stmt.reset(); insert_absent_stmt.reset();
    delete_stmt.reset(); prune_stmt.reset();
    all_stmt.reset(); count_stmt.reset(); clear_stmt.reset(); page_stmt.reset();
    take_lock_stmt.reset(); lock_holder_stmt.reset(); release_lock_stmt.reset(); cas_stmt.reset();
    prune_locks_stmt.reset(); refresh_stmt.reset(); of_user_stmt.reset();
    if (db) sqlite3_close_v2(db);
  }

  void exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string why = message ? message : "unknown error";
      sqlite3_free(message);
      throw std::runtime_error("SQLite: " + why + " (" + sql + ")");
    }
  }

  void open() {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr) != SQLITE_OK)
      throw std::runtime_error("SQLite: cannot open " + options.path + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_busy_timeout(db, int(options.busy_timeout.count()));
    exec("PRAGMA journal_mode=WAL");
    // NORMAL in WAL mode: a committed write survives the process being killed.
    exec("PRAGMA synchronous=NORMAL");
    exec("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, record TEXT NOT NULL, "
         "expires INTEGER NOT NULL) WITHOUT ROWID");
    exec("CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires)");
    // The user index: a column with the session's user (NULL: nobody logged in), indexed. Files
    // made before it get the column added.
    if (!has_column("sessions", "user")) exec("ALTER TABLE sessions ADD COLUMN user TEXT");
    exec("CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user) WHERE user IS NOT NULL");
    get_stmt = std::make_unique<statement>(db, "SELECT record FROM sessions WHERE id = ?1 AND expires > ?2");
    upsert_stmt = std::make_unique<statement>(
        db, "INSERT INTO sessions (id, record, expires, user) VALUES (?1, ?2, ?3, ?5) "
            "ON CONFLICT(id) DO UPDATE SET record = excluded.record, expires = excluded.expires, user = excluded.user");
    // The conditional writes: the check and the write are one statement, so a destroy by another
    // process cannot come between them.
    update_live_stmt = std::make_unique<statement>(
        db, "UPDATE sessions SET record = ?2, expires = ?3, user = ?5 WHERE id = ?1 AND expires > ?4");
    insert_absent_stmt = std::make_unique<statement>(
        db, "INSERT INTO sessions (id, record, expires, user) VALUES (?1, ?2, ?3, ?5) "
            "ON CONFLICT(id) DO UPDATE SET record = excluded.record, expires = excluded.expires, user = excluded.user "
            "WHERE sessions.expires <= ?4");
    // A touch: the cookie and expiry refreshed, the user as stored.
    refresh_stmt = std::make_unique<statement>(db, "UPDATE sessions SET record = ?2, expires = ?3 WHERE id = ?1");
    of_user_stmt = std::make_unique<statement>(
        db, "SELECT id, record, expires FROM sessions WHERE user = ?1 AND expires > ?2");
    delete_stmt = std::make_unique<statement>(db, "DELETE FROM sessions WHERE id = ?1");
    prune_stmt = std::make_unique<statement>(db, "DELETE FROM sessions WHERE expires <= ?1");
    all_stmt = std::make_unique<statement>(db, "SELECT id, record FROM sessions WHERE expires > ?1");
    count_stmt = std::make_unique<statement>(db, "SELECT count(*) FROM sessions WHERE expires > ?1");
    clear_stmt = std::make_unique<statement>(db, "DELETE FROM sessions");
    page_stmt = std::make_unique<statement>(
        db, "SELECT id, record, expires FROM sessions WHERE id > ?1 AND expires > ?2 ORDER BY id LIMIT ?3");
    // Session locks (concurrency lock), shared by every process on the file: a row per held
    // lock with its owner's token and the end of its lease (wall-clock ms).
    exec("CREATE TABLE IF NOT EXISTS session_locks (id TEXT PRIMARY KEY, owner TEXT NOT NULL, "
         "until INTEGER NOT NULL) WITHOUT ROWID");
    take_lock_stmt = std::make_unique<statement>(
        db, "INSERT INTO session_locks (id, owner, until) VALUES (?1, ?2, ?3) "
            "ON CONFLICT(id) DO UPDATE SET owner = excluded.owner, until = excluded.until "
            "WHERE session_locks.until <= ?4");
    lock_holder_stmt = std::make_unique<statement>(db, "SELECT owner, until FROM session_locks WHERE id = ?1");
    release_lock_stmt = std::make_unique<statement>(db, "DELETE FROM session_locks WHERE id = ?1 AND owner = ?2");
    prune_locks_stmt = std::make_unique<statement>(db, "DELETE FROM session_locks WHERE until <= ?1");
    // Compare-and-set: the comparison and the write are one statement.
    cas_stmt = std::make_unique<statement>(
        db, "UPDATE sessions SET record = ?3, expires = ?4, user = ?6 WHERE id = ?1 AND record = ?2 AND expires > ?5");
  }

  bool has_column(const char* table, std::string_view column) {
    statement st(db, (std::string("PRAGMA table_info(") + table + ")").c_str());
    int rc;
    while ((rc = st.step()) == SQLITE_ROW)
      if (st.text(1) == column) return true;
    return false;
  }

  void start() {
    worker = std::thread([self = shared_from_this()] { self->run_worker(); });
    schedule_prune();
  }

  void run_worker() {
    for (;;) {
      detail::unique_function<void(bool)> job;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return stopping || !jobs.empty(); });
        if (jobs.empty()) return;  // stopping, and the queue is done
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job(true);
    }
  }

  // Queues `work` (run on the store's thread) whose result goes to `complete` on the executor.
  template <class Work>
  void submit(Work work) {
    std::unique_lock lock(mutex);
    if (stopping) {
      lock.unlock();
      work(false);
      return;
    }
    jobs.push_back(std::move(work));
    lock.unlock();
    wake.notify_one();
  }

  template <class F>
  void complete(F&& f) {
    boost::asio::post(executor, std::forward<F>(f));
  }

  timestamp expiry_of(const session_record& record, timestamp at) const {
    return sessionkit::expiry_of(record, at, options.ttl_without_expiry);
  }

  int upsert(std::string_view id, std::string_view json, timestamp expires, std::string_view user) {
    reset_guard g{*upsert_stmt};
    upsert_stmt->bind(1, id).bind(2, json).bind(3, ms_of(expires)).bind_or_null(5, user);
    return upsert_stmt->step();
  }

  // A write under `condition`; `written` says whether a row changed. @return SQLite's status
  int write_if(std::string_view id, const session_record& record, timestamp expires, timestamp at,
               write_condition condition, bool& written) {
    statement& st = condition == write_condition::if_present ? *update_live_stmt : *insert_absent_stmt;
    reset_guard g{st};
    st.bind(1, id).bind(2, record.json).bind(3, ms_of(expires)).bind(4, ms_of(at)).bind_or_null(5, record.user);
    const int rc = st.step();
    written = rc == SQLITE_DONE && sqlite3_changes(db) > 0;
    return rc;
  }

  int remove(std::string_view id) {
    reset_guard g{*delete_stmt};
    delete_stmt->bind(1, id);
    return delete_stmt->step();
  }

  // Runs `body` (which returns an error) in one IMMEDIATE transaction: committed when it
  // succeeds, rolled back when it fails.
  template <class Body>
  std::error_code in_transaction(const char* what, Body&& body) {
    const int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return report(rc, what);
    std::error_code ec = body();
    if (ec) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return ec;
    }
    const int committed = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    if (committed != SQLITE_OK) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return report(committed, what);
    }
    return {};
  }

  // The live record of `id`, if any (`ec` set when SQLite fails).
  std::optional<std::string> live_record(std::string_view id, timestamp at, std::error_code& ec, const char* what) {
    reset_guard g{*get_stmt};
    get_stmt->bind(1, id).bind(2, ms_of(at));
    const int rc = get_stmt->step();
    if (rc == SQLITE_ROW) return get_stmt->text(0);
    if (rc != SQLITE_DONE) ec = report(rc, what);
    return std::nullopt;
  }

  // Touch inside a transaction: only a live session; its data stays as stored (another process
  // may have changed it), only the cookie and the expiry are refreshed.
  std::error_code touch_row(std::string_view id, const session_record& record, timestamp at) {
    std::error_code ec;
    const std::optional<std::string> stored = live_record(id, at, ec, "touch");
    if (!stored || ec) return ec;
    const timestamp expires = expiry_of(record, at);
    std::optional<std::string> spliced;
    if (auto cookie = record::leading_cookie(record.json)) spliced = record::with_cookie(*stored, *cookie);
    if (expires <= at) return report(remove(id), "touch");
    reset_guard g{*refresh_stmt};
    refresh_stmt->bind(1, id).bind(2, spliced ? *spliced : *stored).bind(3, ms_of(expires));
    return report(refresh_stmt->step(), "touch");
  }

  // A set under `condition` (the store's `set_if`); `error::session_gone` when it did not hold.
  std::error_code write_row(std::string_view id, const session_record& record, write_condition condition) {
    const timestamp at = now();
    const timestamp expires = expiry_of(record, at);
    if (expires <= at) {
      // Already expired: delete rather than store, as connect-redis does (a new one: nothing).
      if (condition != write_condition::if_absent) return report(remove(id), "set");
      return {};
    }
    if (condition == write_condition::always) return report(upsert(id, record.json, expires, record.user), "set");
    bool written = false;
    if (auto ec = report(write_if(id, record, expires, at, condition, written), "set")) return ec;
    return written ? std::error_code() : std::error_code(error::session_gone);
  }

  std::error_code report(int rc, const char* what) {
    if (rc == SQLITE_DONE || rc == SQLITE_ROW || rc == SQLITE_OK) return {};
    log(log_level::error, std::string("SQLite ") + what + " failed: " + sqlite3_errstr(rc));
    return error_from(rc);
  }

  void schedule_prune() {
    prune_timer.expires_after(options.prune_interval);
    prune_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->submit([self](bool run) {
        if (!run) return;
        {
          reset_guard g{*self->prune_stmt};
          self->prune_stmt->bind(1, ms_of(now()));
          self->report(self->prune_stmt->step(), "prune");
        }
        reset_guard g{*self->prune_locks_stmt};
        self->prune_locks_stmt->bind(1, ms_of(now()));
        self->report(self->prune_locks_stmt->step(), "prune locks");
      });
      self->schedule_prune();
    });
  }
};

sqlite_store::sqlite_store(boost::asio::any_io_executor executor, sqlite_store_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options))) {
  impl_->open();
  impl_->start();
}

sqlite_store::~sqlite_store() { shutdown(); }

void sqlite_store::shutdown() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->prune_timer.cancel();
  impl_->wake.notify_all();
  // Work already queued runs to the end (its writes are committed), then the thread exits.
  if (impl_->worker.joinable() && impl_->worker.get_id() != std::this_thread::get_id()) impl_->worker.join();
}

void sqlite_store::defer(detail::unique_function<void()> fn) {
  impl_->complete([f = std::move(fn)]() mutable { f(); });
}

void sqlite_store::get(std::string_view id, get_handler handler) {
  impl_->submit([self = impl_, id = std::string(id), h = std::move(handler)](bool run) mutable {
    if (!run) return self->complete([h = std::move(h)]() mutable { h(error::shut_down, std::nullopt); });
    std::optional<std::string> found;
    std::error_code ec;
    {
      reset_guard g{*self->get_stmt};
      self->get_stmt->bind(1, id).bind(2, ms_of(now()));
      const int rc = self->get_stmt->step();
      if (rc == SQLITE_ROW) found = self->get_stmt->text(0);
      else ec = self->report(rc, "get");
    }
    self->complete([h = std::move(h), ec, found = std::move(found)]() mutable { h(ec, std::move(found)); });
  });
}

void sqlite_store::set(std::string_view id, session_record record, completion_handler handler) {
  set_if(id, std::move(record), write_condition::always, std::move(handler));
}

void sqlite_store::set_if(std::string_view id, session_record record, write_condition condition,
                          completion_handler handler) {
  impl_->submit([self = impl_, id = std::string(id), record = std::move(record), condition,
                 h = std::move(handler)](bool run) mutable {
    if (!run) return self->complete([h = std::move(h)]() mutable { h(error::shut_down); });
    const std::error_code ec = self->write_row(id, record, condition);
    self->complete([h = std::move(h), ec]() mutable { h(ec); });
  });
}

void sqlite_store::destroy(std::string_view id, completion_handler handler) {
  impl_->submit([self = impl_, id = std::string(id), h = std::move(handler)](bool run) mutable {
    if (!run) return self->complete([h = std::move(h)]() mutable { h(error::shut_down); });
    const std::error_code ec = self->report(self->remove(id), "destroy");
    self->complete([h = std::move(h), ec]() mutable { h(ec); });
  });
}

void sqlite_store::touch(std::string_view id, session_record record, completion_handler handler) {
  impl_->submit([self = impl_, id = std::string(id), record = std::move(record), h = std::move(handler)](bool run) mutable {
    if (!run) return self->complete([h = std::move(h)]() mutable { h(error::shut_down); });
    const std::error_code ec = self->in_transaction("touch", [&] { return self->touch_row(id, record, now()); });
    self->complete([h = std::move(h), ec]() mutable { h(ec); });
  });
}

void sqlite_store::defer_for(std::chrono::milliseconds delay, detail::unique_function<void()> fn) {
  auto timer = std::make_shared<boost::asio::steady_timer>(impl_->executor, delay);
  timer->async_wait([timer, f = std::move(fn)](boost::system::error_code) mutable { f(); });
}

void sqlite_store::lock_and_get(std::string_view id, lock_claim claim, lock_handler handler) {
  impl_->submit([self = impl_, id = std::string(id), owner = std::string(claim.owner), lease = claim.lease,
                 h = std::move(handler)](bool run) mutable {
    lock_result result;
    if (!run) {
      result.error = error::shut_down;
      return self->complete([h = std::move(h), result = std::move(result)]() mutable { h(std::move(result)); });
    }
    result.error = self->in_transaction("lock", [&]() -> std::error_code {
      const timestamp at = now();
      {
        statement& st = *self->take_lock_stmt;
        reset_guard g{st};
        st.bind(1, id).bind(2, owner).bind(3, ms_of(at) + lease.count()).bind(4, ms_of(at));
        if (auto ec = self->report(st.step(), "lock")) return ec;
        result.acquired = sqlite3_changes(self->db) > 0;
      }
      std::error_code ec;
      if (result.acquired) {
        result.json = self->live_record(id, at, ec, "lock");
      } else {
        statement& st = *self->lock_holder_stmt;
        reset_guard g{st};
        st.bind(1, id);
        if (st.step() == SQLITE_ROW)
          result.held_for = std::chrono::milliseconds(std::max<long long>(0, st.integer(1) - ms_of(at)));
      }
      return ec;
    });
    if (result.error) {
      result.acquired = false;
      result.json.reset();
    }
    self->complete([h = std::move(h), result = std::move(result)]() mutable { h(std::move(result)); });
  });
}

void sqlite_store::write_and_unlock(std::string_view id, std::string_view owner, locked_write write,
                                    completion_handler handler) {
  impl_->submit([self = impl_, id = std::string(id), owner = std::string(owner), write = std::move(write),
                 h = std::move(handler)](bool run) mutable {
    if (!run) return self->complete([h = std::move(h)]() mutable { h(error::shut_down); });
    std::error_code outcome;  // of the write itself: lock_lost and session_gone still commit the release
    const std::error_code ec = self->in_transaction("unlock", [&]() -> std::error_code {
      const timestamp at = now();
      bool held = false, live = false;
      {
        statement& st = *self->lock_holder_stmt;
        reset_guard g{st};
        st.bind(1, id);
        if (st.step() == SQLITE_ROW && st.text(0) == owner) {
          held = true;
          live = st.integer(1) > ms_of(at);
        }
      }
      std::error_code failed;
      switch (write.what) {
        case locked_write::kind::none: break;
        case locked_write::kind::set:
          if (!live) outcome = error::lock_lost;
          else if ((failed = self->write_row(id, write.record, write.condition)) == error::session_gone)
            outcome = std::exchange(failed, {});
          break;
        case locked_write::kind::touch: failed = self->touch_row(id, write.record, at); break;
        case locked_write::kind::destroy: failed = self->report(self->remove(id), "destroy"); break;
      }
      if (failed) return failed;
      if (!held) return {};
      statement& st = *self->release_lock_stmt;
      reset_guard g{st};
      st.bind(1, id).bind(2, owner);
      return self->report(st.step(), "unlock");
    });
    self->complete([h = std::move(h), ec = ec ? ec : outcome]() mutable { h(ec); });
  });
}

void sqlite_store::compare_and_set(std::string_view id, std::string_view expected, session_record record,
                                   compare_and_set_handler handler) {
  impl_->submit([self = impl_, id = std::string(id), expected = std::string(expected), record = std::move(record),
                 h = std::move(handler)](bool run) mutable {
    compare_and_set_result result;
    if (!run) {
      result.error = error::shut_down;
      return self->complete([h = std::move(h), result = std::move(result)]() mutable { h(std::move(result)); });
    }
    const timestamp at = now();
    const timestamp expires = self->expiry_of(record, at);
    {
      statement& st = *self->cas_stmt;
      reset_guard g{st};
      // An expired record's write is a delete; as a compare-and-set it expires the row at once.
      st.bind(1, id).bind(2, expected).bind(3, record.json).bind(4, ms_of(expires > at ? expires : at)).bind(5, ms_of(at));
      st.bind_or_null(6, record.user);
      result.error = self->report(st.step(), "compare-and-set");
    }
    if (!result.error && sqlite3_changes(self->db) == 0) {
      std::error_code ec;
      result.current = self->live_record(id, at, ec, "compare-and-set");
      result.error = ec ? ec : result.current ? std::error_code(error::record_changed) : std::error_code(error::session_gone);
    }
    self->complete([h = std::move(h), result = std::move(result)]() mutable { h(std::move(result)); });
  });
}

void sqlite_store::all(all_handler handler) {
  impl_->submit([self = impl_, h = std::move(handler)](bool run) mutable {
    if (!run) return self->complete([h = std::move(h)]() mutable { h(error::shut_down, {}); });
    std::vector<std::pair<std::string, std::string>> out;
    int rc;
    {
      reset_guard g{*self->all_stmt};
      self->all_stmt->bind(1, ms_of(now()));
      while ((rc = self->all_stmt->step()) == SQLITE_ROW) out.emplace_back(self->all_stmt->text(0), self->all_stmt->text(1));
    }
    const std::error_code ec = self->report(rc, "all");
    self->complete([h = std::move(h), ec, out = std::move(out)]() mutable { h(ec, ec ? decltype(out){} : std::move(out)); });
  });
}

void sqlite_store::ids(ids_handler handler) {
  all([h = std::move(handler)](std::error_code ec, std::vector<std::pair<std::string, std::string>> sessions) mutable {
    std::vector<std::string> out;
    out.reserve(sessions.size());
    for (auto& s : sessions) out.push_back(std::move(s.first));
    h(ec, std::move(out));
  });
}

void sqlite_store::length(length_handler handler) {
  impl_->submit([self = impl_, h = std::move(handler)](bool run) mutable {
    if (!run) return self->complete([h = std::move(h)]() mutable { h(error::shut_down, 0); });
    std::size_t n = 0;
    std::error_code ec;
    {
      reset_guard g{*self->count_stmt};
      self->count_stmt->bind(1, ms_of(now()));
      const int rc = self->count_stmt->step();
      if (rc == SQLITE_ROW) n = std::size_t(self->count_stmt->integer(0));
      else ec = self->report(rc, "length");
    }
    self->complete([h = std::move(h), ec, n]() mutable { h(ec, n); });
  });
}

void sqlite_store::clear(completion_handler handler) {
  impl_->submit([self = impl_, h = std::move(handler)](bool run) mutable {
    if (!run) return self->complete([h = std::move(h)]() mutable { h(error::shut_down); });
    std::error_code ec;
    {
      reset_guard g{*self->clear_stmt};
      ec = self->report(self->clear_stmt->step(), "clear");
    }
    self->complete([h = std::move(h), ec]() mutable { h(ec); });
  });
}

void sqlite_store::page(std::string_view cursor, std::size_t size, page_handler handler) {
  impl_->submit([self = impl_, cursor = std::string(cursor), size = std::max<std::size_t>(size, 1),
                 h = std::move(handler)](bool run) mutable {
    if (!run) return self->complete([h = std::move(h)]() mutable { h(error::shut_down, {}); });
    session_page out;
    int rc;
    {
      statement& st = *self->page_stmt;
      reset_guard g{st};
      st.bind(1, cursor).bind(2, ms_of(now())).bind(3, static_cast<long long>(size));
      while ((rc = st.step()) == SQLITE_ROW)
        out.sessions.push_back({st.text(0), st.text(1), timestamp(std::chrono::milliseconds(st.integer(2)))});
    }
    const std::error_code ec = self->report(rc, "page");
    if (!ec && out.sessions.size() == size) out.next = out.sessions.back().id;
    self->complete([h = std::move(h), ec, out = std::move(out)]() mutable { h(ec, ec ? session_page{} : std::move(out)); });
  });
}

void sqlite_store::sessions_of(std::string_view user, sessions_handler handler) {
  impl_->submit([self = impl_, user = std::string(user), h = std::move(handler)](bool run) mutable {
    if (!run) return self->complete([h = std::move(h)]() mutable { h(error::shut_down, {}); });
    std::vector<listed_session> out;
    int rc;
    {
      statement& st = *self->of_user_stmt;
      reset_guard g{st};
      st.bind(1, user).bind(2, ms_of(now()));
      while ((rc = st.step()) == SQLITE_ROW)
        out.push_back({st.text(0), st.text(1), timestamp(std::chrono::milliseconds(st.integer(2)))});
    }
    const std::error_code ec = self->report(rc, "sessions of a user");
    self->complete([h = std::move(h), ec, out = std::move(out)]() mutable { h(ec, ec ? decltype(out){} : std::move(out)); });
  });
}

void sqlite_store::prune(detail::unique_function<void(std::error_code, std::size_t)> handler) {
  impl_->submit([self = impl_, h = std::move(handler)](bool run) mutable {
    if (!run) return self->complete([h = std::move(h)]() mutable { h(error::shut_down, 0); });
    std::error_code ec;
    std::size_t removed = 0;
    {
      reset_guard g{*self->prune_stmt};
      self->prune_stmt->bind(1, ms_of(now()));
      ec = self->report(self->prune_stmt->step(), "prune");
      removed = std::size_t(sqlite3_changes(self->db));
    }
    self->complete([h = std::move(h), ec, removed]() mutable { h(ec, removed); });
  });
}

}  // namespace sessionkit
