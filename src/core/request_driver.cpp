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
      state_(owner, request, store_.ready(), this) {}

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
    case step::unavailable: return handler(error::store_unavailable);
    case step::load: break;
    case step::skip:
    case step::ready: return handler({});
  }
  const std::string& id = state_.id_to_load();
  if (immediate_) {
    get_result answer = immediate_->get_now(id);
    handler(take_loaded(answer.error, std::move(answer.json)));
    return;
  }
  store_.get(id, [self = shared_from_this(), h = std::move(handler)](
                     std::error_code ec, std::optional<std::string> json) mutable {
    h(self->apply_late([&] { return self->take_loaded(ec, std::move(json)); }));
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
  if (immediate_) {
    switch (plan.operation) {
      case store_operation::none: return finish({});
      case store_operation::save: return finish(immediate_->set_now(plan.id, std::move(plan.record), condition));
      case store_operation::touch: return finish(immediate_->touch_now(plan.id, std::move(plan.record)));
      case store_operation::destroy: return finish(immediate_->destroy_now(plan.id));
    }
    return;
  }
  // The driver (and so the session's id the plan views) lives until the completion.
  auto later = [self = shared_from_this(), f = std::move(finish)](std::error_code ec) mutable { f(ec); };
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
  if (immediate_) {
    const std::error_code ec = immediate_->set_now(id, std::move(record), condition);
    if (!ec) state_.on_saved();
    return handler(ec);
  }
  auto done = [self = shared_from_this(), h = std::move(handler)](std::error_code ec) mutable {
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
  if (immediate_) return handler(immediate_->destroy_now(id));
  store_.destroy(id, [self = shared_from_this(), h = std::move(handler)](std::error_code ec) mutable { h(ec); });
}

}  // namespace sessionkit
