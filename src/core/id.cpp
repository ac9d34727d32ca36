#include <sessionkit/id.hpp>

#include "detail/base64.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace sessionkit {

std::string generate_id() {
  std::array<unsigned char, 24> bytes{};
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    filled += std::size_t(n);
  }
  std::string id;
  id.reserve(32);
  detail::append_base64(id, bytes.data(), bytes.size(), detail::base64_alphabet::url);
  return id;
}

std::string redact_id(std::string_view id) {
  return std::string(id.substr(0, 6)) + "…";
}

}  // namespace sessionkit
