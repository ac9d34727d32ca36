// request_driver: carries out the engine's decisions against the store (the only caller of a
// store for a request), in one of two ways: inside the call with a store that answers at once,
// or through the store's asynchronous operations.

#include <sessionkit/request_driver.hpp>

#include "detail/recycling_allocator.hpp"
#include "user_index.hpp"

#include <sessionkit/id.hpp>
#include <sessionkit/log.hpp>

#include <algorithm>
#include <random>

namespace sessionkit {
namespace {

// A lock owner's token: unique across requests, threads, processes and machines (a random
// prefix per thread and a counter), not secret (holding a lock grants nothing to a client). No
// system call per request.
std::string lock_owner_token() {
  thread_local const std::string prefix = generate_id() + ".";
  thread_local std::uint64_t next = 0;
  return prefix + std::to_string(++next);
}

}  // namespace

std::shared_ptr<request_driver> engine::begin(const request_info& request) const {
  // The previous request's block on this thread is reused (no malloc per request).
  return std::allocate_shared<request_driver>(detail::recycling_allocator<request_driver>{}, *this, request);
}

request_driver::request_driver(const engine& owner, const request_info& request)
    : store_(owner.backing_store()),
      immediate_(store_.immediate()),
      metrics_(owner.settings().metrics.get()),
      state_(owner, request, store_.ready(), this),
      mode_(owner.settings().concurrency) {}

request_driver::~request_driver() { release_lock(); }

std::string_view request_driver::key(std::string_view id) {
  if (!owner().hashes_ids()) return id;
  key_buffer_ = owner().store_key(id);
  return key_buffer_;
}

// --- metrics (nothing is counted or timed without options::metrics) ------------------------

request_driver::clock::time_point request_driver::started() const noexcept {
  return metrics_ ? clock::now() : clock::time_point{};
}

void request_driver::observe(metrics::operation op, clock::time_point start, std::error_code ec) noexcept {
  if (!metrics_) return;
  metrics_->store_latency(op, clock::now() - start);
  if (ec && ec != error::session_gone) metrics_->store_error(ec);
}

void request_driver::count_outcome(store_operation op, std::error_code ec) noexcept {
  if (!metrics_ || ec) return;
  switch (op) {
    case store_operation::save: metrics_->session_saved(); break;
    case store_operation::touch: metrics_->session_touched(); break;
    case store_operation::destroy: metrics_->session_destroyed(); break;
    case store_operation::none: break;
  }
}

void request_driver::count_load(std::error_code ec) noexcept {
  if (!metrics_ || ec) return;
  // A record found is a loaded session; none (or a broken one) made a new session in place of
  // the one the cookie named: it expired (or was destroyed elsewhere).
  if (state_.save_condition() == write_condition::if_present) {
    metrics_->session_loaded();
  } else {
    metrics_->session_created();
    metrics_->session_expired();
  }
}

void request_driver::abandon_waits() noexcept {
  std::lock_guard lock(late_answers_);
  abandoned_ = true;
}

template <class F>
std::error_code request_driver::apply_late(F&& change) {
  std::lock_guard lock(late_answers_);
  if (abandoned_) return std::make_error_code(std::errc::operation_canceled);
  return change();
}

std::error_code request_driver::take_loaded(std::error_code ec, std::optional<std::string_view> json) {
  if (ec) return ec;
  const bool events = owner().wants_events();
  const std::string named = events ? state_.id_to_load() : std::string();
  state_.on_loaded(json);
  if (state_.first_step() == step::load) return {};  // a renewed id: its new id loads next
  if (!state_.timed_out_id().empty()) {
    if (events) owner().emit(session_event_kind::expired, named, &state_.timed_out_data(), state_.timed_out_reason());
    destroy_timed_out(state_.timed_out_id());
  } else if (events) {
    if (state_.save_condition() == write_condition::if_present)
      owner().emit(session_event_kind::loaded, named, &current()->data(), "request");
    else  // the cookie named a session the store no longer has (or an unreadable record)
      owner().emit(session_event_kind::expired, named, nullptr, "gone");
  }
  return {};
}

// A record past a timeout is destroyed (its lock released with it); the request goes on with
// its new session meanwhile, and a failure only leaves the record to its store expiry.
void request_driver::destroy_timed_out(const std::string& id) {  // counted as expired by count_load
  destroy_record(id, [shown = redact_id(id)](std::error_code ec) {
    if (ec && ec != error::shut_down)
      log(log_level::warning, "session " + shown + " timed out but was not destroyed (" + ec.message() +
                                  "); its store expiry ends it");
  });
}

void request_driver::load(completion_handler handler) {
  switch (state_.first_step()) {  // no store call needed: answered now
    case step::unavailable:
      if (metrics_) metrics_->store_error(error::store_unavailable);
      return handler(error::store_unavailable);
    case step::load: break;
    case step::skip: return handler({});
    case step::ready:
      if (metrics_) metrics_->session_created();
      return handler({});
  }
  if (mode_ == concurrency_mode::lock) {
    lock_owner_ = lock_owner_token();
    lock_deadline_ = clock::now() + owner().settings().lock_timeout;
    return try_lock(std::move(handler), started(), 0);
  }
  const std::string& id = state_.id_to_load();
  const auto start = started();
  if (immediate_) {
    // Read into this thread's buffer (its capacity stays: no allocation per load); the record
    // is taken apart before anything else can use the buffer.
    thread_local std::string loaded;
    bool found = false;
    std::error_code ec = immediate_->get_into_now(key(id), loaded, found);
    ec = take_loaded(ec, found ? std::optional<std::string_view>(loaded) : std::nullopt);
    observe(metrics::operation::get, start, ec);
    if (load_goes_on(ec, handler)) return;
    count_load(ec);
    handler(ec);
    return;
  }
  store_.get(key(id), [self = shared_from_this(), start, h = std::move(handler)](
                     std::error_code ec, std::optional<std::string> json) mutable {
    const std::error_code loaded = self->apply_late([&] {
      const std::error_code taken = self->take_loaded(ec, json ? std::optional<std::string_view>(*json) : std::nullopt);
      self->observe(metrics::operation::get, start, taken);
      return taken;
    });
    if (self->load_goes_on(loaded, h)) return;
    self->count_load(loaded);
    h(loaded);
  });
}

// After a load: a renewed id's forward is followed (its lock, if any, released first), a
// session due for renewal is renewed; both complete `handler` themselves.
bool request_driver::load_goes_on(std::error_code ec, completion_handler& handler) {
  if (ec) return false;
  if (state_.first_step() == step::load) {
    release_lock();
    load(std::move(handler));
    return true;
  }
  if (state_.renew_due()) {
    count_load(ec);
    renew(std::move(handler));
    return true;
  }
  return false;
}

// --- lock: take the session's lock with the load, release it with the write ---------------

void request_driver::try_lock(completion_handler handler, clock::time_point start, unsigned attempt) {
  const lock_claim claim{lock_owner_, owner().settings().lock_lease};
  const std::string& id = state_.id_to_load();
  if (immediate_) {
    bool done = false;
    const std::error_code ec = take_lock_answer(immediate_->lock_and_get_now(key(id), claim), handler, start, attempt, done);
    if (done) handler(ec);
    return;
  }
  store_.lock_and_get(key(id), claim, [self = shared_from_this(), start, attempt,
                                  h = std::move(handler)](lock_result answer) mutable {
    bool done = true;
    bool release = false;
    std::error_code ec;
    {
      std::lock_guard lock(self->late_answers_);
      if (self->abandoned_) {
        // Nobody waits for this load any more: a lock it took is given back at once.
        ec = std::make_error_code(std::errc::operation_canceled);
        if (answer.acquired) {
          self->locked_id_ = self->state_.id_to_load();
          release = true;
        }
      } else {
        ec = self->take_lock_answer(std::move(answer), h, start, attempt, done);
      }
    }
    if (release) self->release_lock();
    if (done) h(ec);
  });
}

std::error_code request_driver::take_lock_answer(lock_result answer, completion_handler& handler,
                                                 clock::time_point start, unsigned attempt, bool& done) {
  done = true;
  if (answer.error) {
    observe(metrics::operation::get, start, answer.error);
    return answer.error;
  }
  if (answer.acquired) {
    locked_id_ = state_.id_to_load();  // kept even if the record is gone and the id replaced
    const std::error_code ec =
        take_loaded({}, answer.json ? std::optional<std::string_view>(*answer.json) : std::nullopt);
    observe(metrics::operation::get, start, ec);
    if (load_goes_on(ec, handler)) {
      done = false;
      return {};
    }
    count_load(ec);
    return ec;
  }
  const auto at = clock::now();
  if (at >= lock_deadline_) {
    log(log_level::warning, "session " + redact_id(state_.id_to_load()) +
                                " stayed locked by another request past lock_timeout; not served");
    if (metrics_) metrics_->store_error(error::lock_timeout);
    return error::lock_timeout;
  }
  if (attempt == 0 && metrics_) metrics_->lock_waited();
  // Try again after 1, 2, 4 ... 32 ms plus jitter (waiters on one session spread out), sooner
  // when the holder's lease ends sooner, never past the deadline.
  thread_local std::minstd_rand jitter(std::random_device{}());
  using std::chrono::milliseconds;
  const milliseconds step(1u << std::min(attempt, 5u));
  milliseconds delay = step + milliseconds(jitter() % (step.count() / 2 + 1));
  if (answer.held_for.count() > 0) delay = std::min(delay, answer.held_for + milliseconds(1));
  delay = std::min(delay, std::chrono::ceil<milliseconds>(lock_deadline_ - at));
  done = false;
  store_.defer_for(delay, [self = shared_from_this(), h = std::move(handler), start, attempt]() mutable {
    self->try_lock(std::move(h), start, attempt + 1);
  });
  return {};
}

void request_driver::release_lock() noexcept {
  if (locked_id_.empty()) return;
  const std::string id = std::move(locked_id_);
  locked_id_.clear();
  try {
    if (immediate_) {
      (void)immediate_->write_and_unlock_now(key(id), lock_owner_, {});
      return;
    }
    store_.write_and_unlock(key(id), lock_owner_, {}, [](std::error_code ec) {
      if (ec && ec != error::shut_down)
        log(log_level::warning, "a session lock was not released (" + ec.message() +
                                    "); it frees itself when its lease ends");
    });
  } catch (const std::exception& e) {
    log(log_level::warning, std::string("a session lock was not released: ") + e.what());
  }
}

// --- merge: compare-and-set, re-applying this request's changes on conflicts -----------------

std::error_code request_driver::merge_answer(compare_and_set_result answer, std::string written,
                                             unsigned attempts_left, session_record& retry) {
  retry = {};
  if (!answer.error) {
    state_.on_written(std::move(written));
    return {};
  }
  if (answer.error != error::record_changed) return answer.error;
  if (attempts_left <= 1 || !answer.current) {
    log(log_level::warning, "session " + redact_id(state_.id()) + " kept changing under a merge; not saved");
    return error::record_changed;
  }
  if (metrics_) metrics_->merge_retried();
  if (auto ec = state_.rebase(*answer.current, retry)) return ec;
  return error::record_changed;  // with `retry` to write
}

void request_driver::write_merged(session_record record, unsigned attempts_left, completion_handler done) {
  std::string written = record.json;
  const std::string& id = state_.id();
  if (immediate_) {  // in-process: a conflict is retried at once (and is rare: a shard lock away)
    session_record retry;
    const std::error_code ec = merge_answer(
        immediate_->compare_and_set_now(key(id), state_.expected_record(), std::move(record)), std::move(written),
        attempts_left, retry);
    if (ec == error::record_changed && !retry.json.empty())
      return write_merged(std::move(retry), attempts_left - 1, std::move(done));
    return done(ec);
  }
  store_.compare_and_set(
      key(id), state_.expected_record(), std::move(record),
      [self = shared_from_this(), written = std::move(written), attempts_left,
       h = std::move(done)](compare_and_set_result answer) mutable {
        session_record retry;
        const std::error_code ec = self->apply_late([&] {
          return self->merge_answer(std::move(answer), std::move(written), attempts_left, retry);
        });
        if (ec != error::record_changed || retry.json.empty()) return h(ec);
        // Many requests merging into one session at once: spread the retries (0-2 ms after the
        // first conflict, up to 0-64 ms later on), so each round lets more of them through.
        const unsigned conflicts = self->owner().settings().merge_attempts - attempts_left + 1;
        thread_local std::minstd_rand jitter(std::random_device{}());
        const auto delay = std::chrono::milliseconds(jitter() % ((1u << std::min(conflicts, 6u)) + 1));
        self->store_.defer_for(delay, [self, retry = std::move(retry), attempts_left, h = std::move(h)]() mutable {
          self->write_merged(std::move(retry), attempts_left - 1, std::move(h));
        });
      });
}

// --- the end of the request and the session's methods ----------------------------------------

void request_driver::end(end_handler handler) {
  end_plan plan = state_.plan_end(store_.has_touch());
  // A failed write withholds the cookie: the response becomes an error, nothing is claimed. A
  // session destroyed meanwhile (by another request) stays destroyed: the response goes out as
  // it is, with no cookie for it.
  id_header_out_ = std::move(plan.id_header);
  login_ = state_.take_login();
  auto finish = [this, h = std::move(handler), cookie = std::move(plan.set_cookie)](std::error_code ec) mutable {
    auto respond = [this](end_handler& h, std::optional<std::string>& cookie, std::error_code ec) {
      if (ec) id_header_out_.reset();  // withheld like the cookie
      if (ec == error::session_gone) h({}, std::nullopt);
      else if (ec) h(ec, std::nullopt);
      else h({}, std::move(cookie));
    };
    if (ec || login_.empty()) return respond(h, cookie, ec);
    // A login's write is followed by the per-user limit, before the response.
    after_login(std::exchange(login_, std::string()),
                [respond, h = std::move(h), cookie = std::move(cookie)](std::error_code ec) mutable {
                  respond(h, cookie, ec);
                });
  };
  // A lock of another id than the one written (the session was replaced) is released apart.
  if (!locked_id_.empty() && (plan.error || !holds_lock_of(plan.id))) release_lock();
  if (plan.error) return finish(plan.error);  // no store call: answered now
  const store_operation op = plan.operation;
  // For events: a save that inserts is a session's first store, a destroy here is an unset.
  const bool inserts = op == store_operation::save && plan.condition == write_condition::if_absent;
  const bool conditional = store_.has_conditional_set();
  const write_condition condition = conditional ? plan.condition : write_condition::always;
  const auto start = started();
  static constexpr metrics::operation timed_as[] = {metrics::operation::get, metrics::operation::set,
                                                    metrics::operation::touch, metrics::operation::destroy};
  // Counts and times the operation, then finishes. The driver (and so the session's id the
  // plan views) lives until then.
  auto complete = [self = shared_from_this(), op, inserts, start, f = std::move(finish)](std::error_code ec) mutable {
    if (op != store_operation::none) {
      self->observe(timed_as[static_cast<int>(op)], start, ec);
      self->count_outcome(op, ec);
      if (!ec && self->owner().wants_events()) {
        const std::string& id = self->state_.id();
        const boost::json::object& data = self->state_.session_data();
        if (inserts) self->owner().emit(session_event_kind::created, id, &data, "new");
        if (op == store_operation::destroy) self->owner().emit(session_event_kind::destroyed, id, &data, "unset");
      }
    }
    f(ec);
  };
  if (holds_lock_of(plan.id)) {  // lock: the write releases the lock, in one step
    locked_write write;
    switch (op) {
      case store_operation::none: break;
      case store_operation::save: write.what = locked_write::kind::set; break;
      case store_operation::touch: write.what = locked_write::kind::touch; break;
      case store_operation::destroy: write.what = locked_write::kind::destroy; break;
    }
    write.record = std::move(plan.record);
    write.condition = condition;
    locked_id_.clear();  // released by this write, whatever its outcome
    if (immediate_) return complete(immediate_->write_and_unlock_now(key(plan.id), lock_owner_, std::move(write)));
    return store_.write_and_unlock(key(plan.id), lock_owner_, std::move(write), std::move(complete));
  }
  if (op == store_operation::save && mode_ == concurrency_mode::merge && condition == write_condition::if_present)
    return write_merged(std::move(plan.record), owner().settings().merge_attempts, std::move(complete));
  if (immediate_) {
    switch (op) {
      case store_operation::none: return complete({});
      case store_operation::save: return complete(immediate_->set_now(key(plan.id), std::move(plan.record), condition));
      case store_operation::touch: return complete(immediate_->touch_now(key(plan.id), std::move(plan.record)));
      case store_operation::destroy: return complete(immediate_->destroy_now(key(plan.id)));
    }
  }
  switch (op) {
    case store_operation::none: return complete({});
    case store_operation::save:
      if (conditional) return store_.set_if(key(plan.id), std::move(plan.record), condition, std::move(complete));
      return store_.set(key(plan.id), std::move(plan.record), std::move(complete));
    case store_operation::touch: return store_.touch(key(plan.id), std::move(plan.record), std::move(complete));
    case store_operation::destroy: return store_.destroy(key(plan.id), std::move(complete));
  }
}

void request_driver::save(completion_handler handler) { store_now(std::move(handler), true); }

void request_driver::store_now(completion_handler handler, bool announce) {
  const std::string& id = state_.id();
  session_record record;
  if (auto ec = state_.prepare_save(record)) return handler(ec);
  login_ = state_.take_login();
  // A session destroyed meanwhile is not brought back: the save reports `error::session_gone`.
  const write_condition condition =
      store_.has_conditional_set() ? state_.save_condition() : write_condition::always;
  const auto start = started();
  auto saved = [self = shared_from_this(), start, inserts = announce && condition == write_condition::if_absent,
                h = std::move(handler)](std::error_code ec) mutable {
    self->observe(metrics::operation::set, start, ec);
    self->count_outcome(store_operation::save, ec);
    if (!ec) self->state_.on_saved();
    if (!ec && inserts && self->owner().wants_events())
      self->owner().emit(session_event_kind::created, self->state_.id(), &self->state_.session_data(), "new");
    if (ec || self->login_.empty()) return h(ec);
    self->after_login(std::exchange(self->login_, std::string()), std::move(h));
  };
  if (mode_ == concurrency_mode::merge && condition == write_condition::if_present)
    return write_merged(std::move(record), owner().settings().merge_attempts, std::move(saved));
  // merge: a new session's first write makes the record later saves compare against.
  std::string written = mode_ == concurrency_mode::merge ? record.json : std::string();
  if (immediate_) {
    const std::error_code ec = immediate_->set_now(key(id), std::move(record), condition);
    if (!ec) state_.on_written(std::move(written));
    return saved(ec);
  }
  auto done = [self = shared_from_this(), written = std::move(written), h = std::move(saved)](std::error_code ec) mutable {
    h(self->apply_late([&] {
      if (!ec) self->state_.on_written(std::move(written));
      return ec;
    }));
  };
  if (condition == write_condition::always) return store_.set(key(id), std::move(record), std::move(done));
  store_.set_if(key(id), std::move(record), condition, std::move(done));
}

void request_driver::reload(completion_handler handler) {
  const std::string& id = state_.id();
  auto take = [this](std::error_code ec, std::optional<std::string> json) {
    if (ec) return ec;
    return state_.on_reloaded(json ? std::optional<std::string_view>(*json) : std::nullopt);
  };
  if (immediate_) {
    get_result answer = immediate_->get_now(key(id));
    return handler(take(answer.error, std::move(answer.json)));
  }
  store_.get(key(id), [self = shared_from_this(), take, h = std::move(handler)](
                          std::error_code ec, std::optional<std::string> json) mutable {
    h(self->apply_late([&] { return take(ec, std::move(json)); }));
  });
}

void request_driver::after_login(const std::string& user, completion_handler handler) {
  if (owner().settings().max_sessions_per_user == 0) return handler({});
  // The login itself stands whatever happens here: a failure is logged, not answered.
  if (immediate_) {  // in-process: at once, as every other step of such a request
    std::vector<listed_session> listed;
    if (auto ec = immediate_->sessions_of_now(user, listed)) {
      log(log_level::warning, "the per-user session limit could not be applied: " + ec.message());
      return handler({});
    }
    const std::size_t limit = owner().settings().max_sessions_per_user;
    const std::string keep(key(state_.id()));
    for (auto& s : detail::sessions_over_limit(detail::user_sessions_from(std::move(listed)), keep, limit)) {
      if (owner().wants_events()) owner().emit_stored(session_event_kind::destroyed, s.id, &s.data, "session limit");
      (void)immediate_->destroy_now(s.id);
    }
    return handler({});
  }
  owner().end_sessions_over_limit(user, state_.id(), [self = shared_from_this(), h = std::move(handler)](
                                                         std::error_code ec, std::size_t) mutable {
    if (ec) log(log_level::warning, "the per-user session limit could not be applied: " + ec.message());
    h({});
  });
}

void request_driver::destroy_record(const std::string& id, completion_handler handler) {
  if (holds_lock_of(id)) {  // lock: destroyed and released in one step
    locked_id_.clear();
    locked_write write;
    write.what = locked_write::kind::destroy;
    if (immediate_) return handler(immediate_->write_and_unlock_now(key(id), lock_owner_, std::move(write)));
    return store_.write_and_unlock(key(id), lock_owner_, std::move(write), std::move(handler));
  }
  if (immediate_) return handler(immediate_->destroy_now(key(id)));
  store_.destroy(key(id), std::move(handler));
}

void request_driver::regenerate(completion_handler handler) {
  if (owner().wants_events())
    owner().emit(session_event_kind::regenerated, state_.id(), &state_.session_data(), "regenerate");
  // As in express-session the new session is made even when the destroy failed.
  destroy_record(state_.id(), [self = shared_from_this(), at_once = immediate_ != nullptr,
                  h = std::move(handler)](std::error_code ec) mutable {
    if (at_once) {
      self->state_.regenerate();
      return h(ec);
    }
    h(self->apply_late([&] {
      self->state_.regenerate();
      return ec;
    }));
  });
}

void request_driver::renew(completion_handler handler) {
  if (!current()) return handler(error::no_session);
  const std::string old_id = state_.renew();
  if (owner().wants_events()) owner().emit(session_event_kind::renewed, old_id, &state_.session_data(), "renew");
  // The new id's record first, then the old id's forward to it: a request that follows the
  // forward always finds the record.
  store_now([self = shared_from_this(), old_id, h = std::move(handler)](std::error_code ec) mutable {
    if (ec) return h(ec);
    self->leave_forward(old_id, std::move(h));
  }, false);  // announced as renewed, not created
}

void request_driver::leave_forward(const std::string& old_id, completion_handler handler) {
  if (owner().settings().renew_grace.count() <= 0) return destroy_record(old_id, std::move(handler));
  // Only over a live record: a session destroyed meanwhile (logged out elsewhere) stays gone.
  auto done = [h = std::move(handler)](std::error_code ec) mutable { h(ec == error::session_gone ? std::error_code() : ec); };
  const write_condition condition =
      store_.has_conditional_set() ? write_condition::if_present : write_condition::always;
  session_record forward = state_.forwarding_record(old_id);
  if (holds_lock_of(old_id)) {  // lock: written and released in one step
    locked_id_.clear();
    locked_write write;
    write.what = locked_write::kind::set;
    write.record = std::move(forward);
    write.condition = condition;
    if (immediate_) return done(immediate_->write_and_unlock_now(key(old_id), lock_owner_, std::move(write)));
    return store_.write_and_unlock(key(old_id), lock_owner_, std::move(write), std::move(done));
  }
  if (immediate_) return done(immediate_->set_now(key(old_id), std::move(forward), condition));
  if (condition == write_condition::always) return store_.set(key(old_id), std::move(forward), std::move(done));
  store_.set_if(key(old_id), std::move(forward), condition, std::move(done));
}

void request_driver::destroy(completion_handler handler) {
  const auto start = started();
  auto done = [self = shared_from_this(), start, h = std::move(handler)](std::error_code ec) mutable {
    self->observe(metrics::operation::destroy, start, ec);
    self->count_outcome(store_operation::destroy, ec);
    if (!ec && self->owner().wants_events())
      self->owner().emit(session_event_kind::destroyed, self->state_.id(), &self->state_.session_data(), "destroy");
    h(ec);
  };
  state_.on_destroyed();  // the id stays for the store call
  destroy_record(state_.id(), std::move(done));
}

}  // namespace sessionkit
