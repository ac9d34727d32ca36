// request_driver: carries out the engine's decisions against the store (the only caller of a
// store for a request), in one of two ways: inside the call with a store that answers at once,
// or through the store's asynchronous operations.

#include <sessionkit/request_driver.hpp>

namespace sessionkit {

std::shared_ptr<request_driver> engine::begin(const request_info& request) const {
  return std::make_shared<request_driver>(*this, request);
}

request_driver::request_driver(const engine& owner, const request_info& request)
    : store_(owner.backing_store()),
      immediate_(store_.immediate()),
      metrics_(owner.settings().metrics.get()),
      state_(owner, request, store_.ready(), this) {}

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
  // A record found is a loaded session; none (or a broken one) made a new session.
  if (state_.save_condition() == write_condition::if_present) metrics_->session_loaded();
  else metrics_->session_created();
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

std::error_code request_driver::take_loaded(std::error_code ec, std::optional<std::string> json) {
  if (ec) return ec;
  state_.on_loaded(json ? std::optional<std::string_view>(*json) : std::nullopt);
  return {};
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
  const std::string& id = state_.id_to_load();
  const auto start = started();
  if (immediate_) {
    get_result answer = immediate_->get_now(id);
    const std::error_code ec = take_loaded(answer.error, std::move(answer.json));
    observe(metrics::operation::get, start, ec);
    count_load(ec);
    handler(ec);
    return;
  }
  store_.get(id, [self = shared_from_this(), start, h = std::move(handler)](
                     std::error_code ec, std::optional<std::string> json) mutable {
    h(self->apply_late([&] {
      const std::error_code loaded = self->take_loaded(ec, std::move(json));
      self->observe(metrics::operation::get, start, loaded);
      self->count_load(loaded);
      return loaded;
    }));
  });
}

void request_driver::end(end_handler handler) {
  end_plan plan = state_.plan_end(store_.has_touch());
  // A failed write withholds the cookie: the response becomes an error, nothing is claimed. A
  // session destroyed meanwhile (by another request) stays destroyed: the response goes out as
  // it is, with no cookie for it.
  auto finish = [h = std::move(handler), cookie = std::move(plan.set_cookie)](std::error_code ec) mutable {
    if (ec == error::session_gone) h({}, std::nullopt);
    else if (ec) h(ec, std::nullopt);
    else h({}, std::move(cookie));
  };
  const bool conditional = store_.has_conditional_set();
  const write_condition condition = conditional ? plan.condition : write_condition::always;
  if (plan.error) return finish(plan.error);  // no store call: answered now
  const store_operation op = plan.operation;
  const auto start = started();
  static constexpr metrics::operation timed_as[] = {metrics::operation::get, metrics::operation::set,
                                                    metrics::operation::touch, metrics::operation::destroy};
  if (immediate_) {
    std::error_code ec;
    switch (op) {
      case store_operation::none: return finish({});
      case store_operation::save: ec = immediate_->set_now(plan.id, std::move(plan.record), condition); break;
      case store_operation::touch: ec = immediate_->touch_now(plan.id, std::move(plan.record)); break;
      case store_operation::destroy: ec = immediate_->destroy_now(plan.id); break;
    }
    observe(timed_as[static_cast<int>(op)], start, ec);
    count_outcome(op, ec);
    return finish(ec);
  }
  // The driver (and so the session's id the plan views) lives until the completion.
  auto later = [self = shared_from_this(), op, start, f = std::move(finish)](std::error_code ec) mutable {
    if (op != store_operation::none) {
      self->observe(timed_as[static_cast<int>(op)], start, ec);
      self->count_outcome(op, ec);
    }
    f(ec);
  };
  switch (plan.operation) {
    case store_operation::none: return later({});
    case store_operation::save:
      if (conditional) return store_.set_if(plan.id, std::move(plan.record), condition, std::move(later));
      return store_.set(plan.id, std::move(plan.record), std::move(later));
    case store_operation::touch: return store_.touch(plan.id, std::move(plan.record), std::move(later));
    case store_operation::destroy: return store_.destroy(plan.id, std::move(later));
  }
}

void request_driver::save(completion_handler handler) {
  const std::string& id = state_.id();
  session_record record;
  if (auto ec = state_.prepare_save(record)) return handler(ec);
  // A session destroyed meanwhile is not brought back: the save reports `error::session_gone`.
  const write_condition condition =
      store_.has_conditional_set() ? state_.save_condition() : write_condition::always;
  const auto start = started();
  if (immediate_) {
    const std::error_code ec = immediate_->set_now(id, std::move(record), condition);
    observe(metrics::operation::set, start, ec);
    count_outcome(store_operation::save, ec);
    if (!ec) state_.on_saved();
    return handler(ec);
  }
  auto done = [self = shared_from_this(), start, h = std::move(handler)](std::error_code ec) mutable {
    self->observe(metrics::operation::set, start, ec);
    self->count_outcome(store_operation::save, ec);
    h(self->apply_late([&] {
      if (!ec) self->state_.on_saved();
      return ec;
    }));
  };
  if (condition == write_condition::always) return store_.set(id, std::move(record), std::move(done));
  store_.set_if(id, std::move(record), condition, std::move(done));
}

void request_driver::reload(completion_handler handler) {
  const std::string& id = state_.id();
  auto take = [this](std::error_code ec, std::optional<std::string> json) {
    if (ec) return ec;
    return state_.on_reloaded(json ? std::optional<std::string_view>(*json) : std::nullopt);
  };
  if (immediate_) {
    get_result answer = immediate_->get_now(id);
    return handler(take(answer.error, std::move(answer.json)));
  }
  store_.get(id, [self = shared_from_this(), take, h = std::move(handler)](
                          std::error_code ec, std::optional<std::string> json) mutable {
    h(self->apply_late([&] { return take(ec, std::move(json)); }));
  });
}

void request_driver::regenerate(completion_handler handler) {
  const std::string& id = state_.id();
  // As in express-session the new session is made even when the destroy failed.
  if (immediate_) {
    const std::error_code ec = immediate_->destroy_now(id);
    state_.regenerate();
    return handler(ec);
  }
  store_.destroy(id, [self = shared_from_this(), h = std::move(handler)](std::error_code ec) mutable {
    h(self->apply_late([&] {
      self->state_.regenerate();
      return ec;
    }));
  });
}

void request_driver::destroy(completion_handler handler) {
  const std::string& id = state_.id();
  state_.on_destroyed();
  const auto start = started();
  if (immediate_) {
    const std::error_code ec = immediate_->destroy_now(id);
    observe(metrics::operation::destroy, start, ec);
    count_outcome(store_operation::destroy, ec);
    return handler(ec);
  }
  store_.destroy(id, [self = shared_from_this(), start, h = std::move(handler)](std::error_code ec) mutable {
    self->observe(metrics::operation::destroy, start, ec);
    self->count_outcome(store_operation::destroy, ec);
    h(ec);
  });
}

}  // namespace sessionkit
