#include <sessionkit/store.hpp>

namespace sessionkit {

store::~store() = default;

void store::touch(std::string_view, session_record, completion_handler handler) {
  defer([h = std::move(handler)]() mutable { h(error::not_supported); });
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

std::optional<get_result> store::try_get(std::string_view) { return std::nullopt; }

std::optional<std::error_code> store::try_set(std::string_view, session_record&) { return std::nullopt; }

std::optional<std::error_code> store::try_touch(std::string_view, session_record&) { return std::nullopt; }

std::optional<std::error_code> store::try_destroy(std::string_view) { return std::nullopt; }

}  // namespace sessionkit
