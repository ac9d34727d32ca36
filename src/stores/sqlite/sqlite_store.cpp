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
      all_stmt, count_stmt, clear_stmt;
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
    all_stmt.reset(); count_stmt.reset(); clear_stmt.reset();
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
    get_stmt = std::make_unique<statement>(db, "SELECT record FROM sessions WHERE id = ?1 AND expires > ?2");
    upsert_stmt = std::make_unique<statement>(
        db, "INSERT INTO sessions (id, record, expires) VALUES (?1, ?2, ?3) "
            "ON CONFLICT(id) DO UPDATE SET record = excluded.record, expires = excluded.expires");
    // The conditional writes: the check and the write are one statement, so a destroy by another
    // process cannot come between them.
    update_live_stmt = std::make_unique<statement>(
        db, "UPDATE sessions SET record = ?2, expires = ?3 WHERE id = ?1 AND expires > ?4");
    insert_absent_stmt = std::make_unique<statement>(
        db, "INSERT INTO sessions (id, record, expires) VALUES (?1, ?2, ?3) "
            "ON CONFLICT(id) DO UPDATE SET record = excluded.record, expires = excluded.expires "
            "WHERE sessions.expires <= ?4");
    delete_stmt = std::make_unique<statement>(db, "DELETE FROM sessions WHERE id = ?1");
    prune_stmt = std::make_unique<statement>(db, "DELETE FROM sessions WHERE expires <= ?1");
    all_stmt = std::make_unique<statement>(db, "SELECT id, record FROM sessions WHERE expires > ?1");
    count_stmt = std::make_unique<statement>(db, "SELECT count(*) FROM sessions WHERE expires > ?1");
    clear_stmt = std::make_unique<statement>(db, "DELETE FROM sessions");
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

  int upsert(std::string_view id, std::string_view json, timestamp expires) {
    reset_guard g{*upsert_stmt};
    upsert_stmt->bind(1, id).bind(2, json).bind(3, ms_of(expires));
    return upsert_stmt->step();
  }

  // A write under `condition`; `written` says whether a row changed. @return SQLite's status
  int write_if(std::string_view id, std::string_view json, timestamp expires, timestamp at,
               write_condition condition, bool& written) {
    statement& st = condition == write_condition::if_present ? *update_live_stmt : *insert_absent_stmt;
    reset_guard g{st};
    st.bind(1, id).bind(2, json).bind(3, ms_of(expires)).bind(4, ms_of(at));
    const int rc = st.step();
    written = rc == SQLITE_DONE && sqlite3_changes(db) > 0;
    return rc;
  }

  int remove(std::string_view id) {
    reset_guard g{*delete_stmt};
    delete_stmt->bind(1, id);
    return delete_stmt->step();
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
        reset_guard g{*self->prune_stmt};
        self->prune_stmt->bind(1, ms_of(now()));
        self->report(self->prune_stmt->step(), "prune");
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
    const timestamp at = now();
    const timestamp expires = self->expiry_of(record, at);
    std::error_code ec;
    if (expires <= at) {
      // Already expired: delete rather than store, as connect-redis does (a new one: nothing).
      if (condition != write_condition::if_absent) ec = self->report(self->remove(id), "set");
    } else if (condition == write_condition::always) {
      ec = self->report(self->upsert(id, record.json, expires), "set");
    } else {
      bool written = false;
      ec = self->report(self->write_if(id, record.json, expires, at, condition, written), "set");
      if (!ec && !written) ec = error::session_gone;
    }
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
    // Only a live session is touched; its data stays as stored (another process may have
    // changed it), only the cookie and the expiry are refreshed. One transaction.
    const timestamp at = now();
    std::error_code ec;
    int rc = sqlite3_exec(self->db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      ec = self->report(rc, "touch");
    } else {
      std::optional<std::string> stored;
      {
        reset_guard g{*self->get_stmt};
        self->get_stmt->bind(1, id).bind(2, ms_of(at));
        rc = self->get_stmt->step();
        if (rc == SQLITE_ROW) stored = self->get_stmt->text(0);
        else if (rc != SQLITE_DONE) ec = self->report(rc, "touch");
      }
      if (stored && !ec) {
        const timestamp expires = self->expiry_of(record, at);
        std::optional<std::string> spliced;
        if (auto cookie = record::leading_cookie(record.json)) spliced = record::with_cookie(*stored, *cookie);
        rc = expires <= at ? self->remove(id) : self->upsert(id, spliced ? *spliced : *stored, expires);
        ec = self->report(rc, "touch");
      }
      sqlite3_exec(self->db, ec ? "ROLLBACK" : "COMMIT", nullptr, nullptr, nullptr);
    }
    self->complete([h = std::move(h), ec]() mutable { h(ec); });
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
