// session: `req.session`'s data access and methods; the methods go through the request driver.

#include <sessionkit/session.hpp>

#include <sessionkit/record.hpp>
#include <sessionkit/request_driver.hpp>

namespace sessionkit {

std::string session::to_json() const { return record::encode(cookie_, data_, keys_before_cookie_); }

bool session::erase(std::string_view key) { return data_.stable_erase(key) != 0; }

void session::set_user(std::string_view user) {
  (*this)[session_keys::user] = user;
  const std::int64_t at = now().time_since_epoch().count();
  (*this)[session_keys::created] = at;
  (*this)[session_keys::seen] = at;
  logged_in_now_ = true;
}

std::string_view session::user() const noexcept {
  const boost::json::value* v = data_.if_contains(session_keys::user);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

namespace {

// A session made outside a driver (decision tests) has no store to go to.
void no_driver(completion_handler& handler) { handler(error::no_session); }

}  // namespace

void session::save(completion_handler handler) {
  if (owner_) owner_->save(std::move(handler));
  else no_driver(handler);
}

void session::reload(completion_handler handler) {
  if (owner_) owner_->reload(std::move(handler));
  else no_driver(handler);
}

void session::regenerate(completion_handler handler) {
  if (owner_) owner_->regenerate(std::move(handler));
  else no_driver(handler);
}

void session::renew(completion_handler handler) {
  if (owner_) owner_->renew(std::move(handler));
  else no_driver(handler);
}

void session::destroy(completion_handler handler) {
  if (owner_) owner_->destroy(std::move(handler));
  else no_driver(handler);
}

}  // namespace sessionkit
