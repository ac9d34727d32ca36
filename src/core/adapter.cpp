// What every HTTP adapter shares (adapter.hpp).

#include <sessionkit/adapter.hpp>

namespace sessionkit::adapter {

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
  info.path = target.substr(0, target.find('?'));
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
