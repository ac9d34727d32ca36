#include <sessionkit/store.hpp>

namespace sessionkit {
namespace {

lock_result lock_not_supported() {
  lock_result r;
  r.error = error::not_supported;
  return r;
}

compare_and_set_result cas_not_supported() {
  compare_and_set_result r;
  r.error = error::not_supported;
  return r;
}

}  // namespace

store::~store() = default;

void store::touch(std::string_view, session_record, completion_handler handler) {
  defer([h = std::move(handler)]() mutable { h(error::not_supported); });
}

void store::set_if(std::string_view id, session_record record, write_condition, completion_handler handler) {
  set(id, std::move(record), std::move(handler));
}

void store::lock_and_get(std::string_view, lock_claim, lock_handler handler) {
  defer([h = std::move(handler)]() mutable { h(lock_not_supported()); });
}

void store::write_and_unlock(std::string_view, std::string_view, locked_write, completion_handler handler) {
  defer([h = std::move(handler)]() mutable { h(error::not_supported); });
}

void store::defer_for(std::chrono::milliseconds, detail::unique_function<void()> fn) { defer(std::move(fn)); }

void store::compare_and_set(std::string_view, std::string_view, session_record, compare_and_set_handler handler) {
  defer([h = std::move(handler)]() mutable { h(cas_not_supported()); });
}

std::error_code immediate_store::get_into_now(std::string_view id, std::string& buffer, bool& found) {
  get_result answer = get_now(id);
  found = answer.json.has_value();
  if (found) buffer = std::move(*answer.json);
  return answer.error;
}

lock_result immediate_store::lock_and_get_now(std::string_view, lock_claim) { return lock_not_supported(); }

std::error_code immediate_store::write_and_unlock_now(std::string_view, std::string_view, locked_write) {
  return error::not_supported;
}

compare_and_set_result immediate_store::compare_and_set_now(std::string_view, std::string_view, session_record) {
  return cas_not_supported();
}

std::error_code immediate_store::sessions_of_now(std::string_view, std::vector<listed_session>&) {
  return error::not_supported;
}

void store::all(all_handler handler) {
  defer([h = std::move(handler)]() mutable { h(error::not_supported, {}); });
}

void store::ids(ids_handler handler) {
  defer([h = std::move(handler)]() mutable { h(error::not_supported, {}); });
}

void store::length(length_handler handler) {
  defer([h = std::move(handler)]() mutable { h(error::not_supported, 0); });
}

void store::page(std::string_view, std::size_t, page_handler handler) {
  defer([h = std::move(handler)]() mutable { h(error::not_supported, {}); });
}

void store::sessions_of(std::string_view, sessions_handler handler) {
  defer([h = std::move(handler)]() mutable { h(error::not_supported, {}); });
}

void store::clear(completion_handler handler) {
  defer([h = std::move(handler)]() mutable { h(error::not_supported); });
}

}  // namespace sessionkit
