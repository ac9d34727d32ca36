// What every HTTP adapter shares (adapter.hpp).

#include <sessionkit/adapter.hpp>

namespace sessionkit::adapter {

std::size_t absolute_form_prefix(std::string_view target) noexcept {
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then "://" and the authority.
  const std::size_t colon = target.find("://");
  if (colon == 0 || colon == std::string_view::npos) return 0;
  for (std::size_t i = 0; i < colon; ++i) {
    const char c = target[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alpha && (i == 0 || !((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))) return 0;
  }
  const std::size_t end = target.find_first_of("/?#", colon + 3);
  return end == std::string_view::npos ? target.size() : end;
}

std::string_view path_of_target(std::string_view target) noexcept {
  if (const std::size_t prefix = absolute_form_prefix(target)) {
    const std::string_view rest = target.substr(prefix);
    const std::string_view path = rest.substr(0, rest.find_first_of("?#"));
    return path.empty() ? std::string_view("/") : path;
  }
  return target.substr(0, target.find('?'));
}

bool express_protocol_is_https(std::string_view forwarded_proto) noexcept {
  std::string_view first = forwarded_proto.substr(0, forwarded_proto.find(','));
  constexpr std::string_view space = " \t\n\v\f\r";  // what String.prototype.trim removes (ASCII)
  const std::size_t begin = first.find_first_not_of(space);
  if (begin == std::string_view::npos) return false;
  first = first.substr(begin, first.find_last_not_of(space) - begin + 1);
  return first == "https";
}

request_info describe_request(std::string_view target, std::string_view cookies,
                              std::string_view forwarded_proto, bool tls, bool trust_proxy) noexcept {
  request_info info;
  info.path = path_of_target(target);
  info.cookie_header = cookies;
  info.forwarded_proto = forwarded_proto;
  info.tls = tls;
  info.adapter_secure = tls || (trust_proxy && express_protocol_is_https(forwarded_proto));
  return info;
}

error_answer answer_for(std::error_code ec) {
  if (is_unavailable(ec))
    return {503, "1", "Service Unavailable: " + ec.message() + "; please retry\n"};
  return {500, nullptr, "Internal Server Error: session store error (" + ec.message() + ")\n"};
}

}  // namespace sessionkit::adapter
