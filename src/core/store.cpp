#include <sessionkit/store.hpp>

namespace sessionkit {

store::~store() = default;

void store::touch(std::string_view, session_record, completion_handler handler) {
  defer([h = std::move(handler)]() mutable { h(error::not_supported); });
}

void store::set_if(std::string_view id, session_record record, write_condition, completion_handler handler) {
  set(id, std::move(record), std::move(handler));
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

void store::clear(completion_handler handler) {
  defer([h = std::move(handler)]() mutable { h(error::not_supported); });
}

}  // namespace sessionkit
