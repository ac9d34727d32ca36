// cookie_memo: a connection's last verified signed id (cookie_memo.hpp).

#include <sessionkit/cookie_memo.hpp>

#include "detail/constant_time.hpp"

namespace sessionkit {

bool cookie_memo::holds(std::uint64_t serial, std::string_view signed_value, std::size_t& secret_index) const noexcept {
  // The length is public (it is the client's own value); the bytes are compared in constant
  // time, so the time taken says nothing about how much of a value matches.
  if (serial_ == 0 || serial != serial_ || signed_value.size() != value_.size()) return false;
  if (!detail::equal_in_constant_time(signed_value.data(), value_.data(), value_.size())) return false;
  secret_index = secret_index_;
  return true;
}

void cookie_memo::remember(std::uint64_t serial, std::string_view signed_value, std::size_t secret_index) {
  serial_ = serial;
  value_.assign(signed_value);
  secret_index_ = secret_index;
}

void cookie_memo::clear() noexcept {
  serial_ = 0;
  value_.clear();
}

}  // namespace sessionkit
