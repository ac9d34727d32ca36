// session: `req.session`'s data access and methods; the methods go through the request driver.

#include <sessionkit/session.hpp>

#include <sessionkit/record.hpp>
#include <sessionkit/request_driver.hpp>

namespace sessionkit {

std::string session::to_json() const { return record::encode(cookie_, data_, keys_before_cookie_); }

bool session::erase(std::string_view key) { return data_.stable_erase(key) != 0; }

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

void session::destroy(completion_handler handler) {
  if (owner_) owner_->destroy(std::move(handler));
  else no_driver(handler);
}

}  // namespace sessionkit
