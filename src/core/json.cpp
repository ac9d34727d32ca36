#include <sessionkit/json.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>

namespace sessionkit {
namespace {

// Integers beyond 2^53 are not exact in JavaScript: print what Node would, via a double.
constexpr std::int64_t max_safe_integer = (std::int64_t{1} << 53);

}  // namespace

void append_js_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  if (d == 0) {  // also -0, which JavaScript prints as "0"
    out += '0';
    return;
  }
  // Shortest round-trip digits, then laid out by ECMA-262 Number::toString.
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, d, std::chars_format::scientific);
  std::string_view sci(buffer, std::size_t(result.ptr - buffer));
  const bool negative = sci.front() == '-';
  if (negative) sci.remove_prefix(1);
  const std::size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos))
    if (c != '.') digits.push_back(c);
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  const int k = int(digits.size());
  const int n = exponent + 1;  // value = 0.digits × 10^n
  if (negative) out += '-';
  if (k <= n && n <= 21) {
    out += digits;
    out.append(std::size_t(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, std::size_t(n)).append(".").append(digits, std::size_t(n));
  } else if (-6 < n && n <= 0) {
    out.append("0.").append(std::size_t(-n), '0').append(digits);
  } else {
    out += digits[0];
    if (k > 1) out.append(".").append(digits, 1);
    out += 'e';
    out += (n - 1 >= 0) ? '+' : '-';
    out += std::to_string(std::abs(n - 1));
  }
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;  // start of the pending unescaped run
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text, run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0xF]);
    }
  }
  out.append(text, run, text.size() - run);
  out.push_back('"');
}

void stringify_to(std::string& out, const boost::json::object& o) {
  out.push_back('{');
  bool first = true;
  for (const auto& member : o) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, member.key());
    out.push_back(':');
    stringify_to(out, member.value());
  }
  out.push_back('}');
}

void stringify_to(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: out += "null"; break;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case boost::json::kind::int64: {
      const std::int64_t i = v.get_int64();
      if (i > -max_safe_integer && i < max_safe_integer) out += std::to_string(i);
      else append_js_number(out, double(i));
      break;
    }
    case boost::json::kind::uint64: {
      const std::uint64_t u = v.get_uint64();
      if (u < std::uint64_t(max_safe_integer)) out += std::to_string(u);
      else append_js_number(out, double(u));
      break;
    }
    case boost::json::kind::double_: append_js_number(out, v.get_double()); break;
    case boost::json::kind::string: append_json_string(out, v.get_string()); break;
    case boost::json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        stringify_to(out, item);
      }
      out.push_back(']');
      break;
    }
    case boost::json::kind::object: stringify_to(out, v.get_object()); break;
  }
}

std::string stringify(const boost::json::value& v) {
  std::string out;
  stringify_to(out, v);
  return out;
}

std::optional<std::string_view> leading_cookie_json(std::string_view record) noexcept {
  constexpr std::string_view head = "{\"cookie\":{";
  if (record.substr(0, head.size()) != head) return std::nullopt;
  // Walk the object, skipping strings, until its braces balance.
  const std::size_t start = head.size() - 1;
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = start; i < record.size(); ++i) {
    const char c = record[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) return record.substr(start, i + 1 - start);
    }
  }
  return std::nullopt;
}

std::optional<std::string> splice_record_cookie(std::string_view stored,
                                                std::string_view fresh_cookie) {
  if (auto old = leading_cookie_json(stored)) {
    const std::size_t rest = old->data() + old->size() - stored.data();
    std::string out;
    out.reserve(stored.size() + fresh_cookie.size());
    out.append("{\"cookie\":").append(fresh_cookie).append(stored.substr(rest));
    return out;
  }
  std::error_code ec;
  auto parsed = parse_json(stored, ec);
  auto cookie = parse_json(fresh_cookie, ec);
  if (!parsed || !parsed->is_object() || !cookie) return std::nullopt;
  boost::json::object out;
  out.reserve(parsed->get_object().size() + 1);
  out.emplace("cookie", std::move(*cookie));
  for (auto& member : parsed->get_object())
    if (member.key() != "cookie") out.emplace(member.key(), std::move(member.value()));
  std::string text;
  stringify_to(text, out);
  return text;
}

namespace {

// Builds values like Boost.JSON's own parser, but reads every non-integer number from its text
// with std::from_chars (correctly rounded), as JavaScript does; Boost 1.81's fast path can be
// off by one unit in the last place, which would change a stored number on rewrite.
struct exact_number_handler {
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();

  boost::json::value_stack stack;
  std::string number;  // the number's text so far (a number may arrive in parts)

  using ec_t = boost::system::error_code;
  using sv = boost::json::string_view;

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) { return true; }
  bool on_object_end(std::size_t n, ec_t&) { stack.push_object(n); return true; }
  bool on_array_begin(ec_t&) { return true; }
  bool on_array_end(std::size_t n, ec_t&) { stack.push_array(n); return true; }
  bool on_key_part(sv s, std::size_t, ec_t&) { stack.push_chars(s); return true; }
  bool on_key(sv s, std::size_t, ec_t&) { stack.push_key(s); return true; }
  bool on_string_part(sv s, std::size_t, ec_t&) { stack.push_chars(s); return true; }
  bool on_string(sv s, std::size_t, ec_t&) { stack.push_string(s); return true; }
  bool on_number_part(sv s, ec_t&) { number.append(s.data(), s.size()); return true; }
  bool on_int64(std::int64_t i, sv, ec_t&) { number.clear(); stack.push_int64(i); return true; }
  bool on_uint64(std::uint64_t u, sv, ec_t&) { number.clear(); stack.push_uint64(u); return true; }
  bool on_double(double, sv s, ec_t&) {
    number.append(s.data(), s.size());
    stack.push_double(exact_double(number));
    number.clear();
    return true;
  }
  bool on_bool(bool b, ec_t&) { stack.push_bool(b); return true; }
  bool on_null(ec_t&) { stack.push_null(); return true; }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }

  static double exact_double(std::string_view text) {
    double d = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    (void)ptr;
    if (ec == std::errc::result_out_of_range) {
      // JavaScript: too large is ±Infinity (written back as null), too small is ±0.
      const bool negative = !text.empty() && text.front() == '-';
      const std::size_t e = text.find_first_of("eE");
      const bool tiny = e != std::string_view::npos && e + 1 < text.size() && text[e + 1] == '-';
      d = tiny ? 0.0 : HUGE_VAL;
      if (negative) d = -d;
    }
    return d;
  }
};

}  // namespace

std::optional<boost::json::value> parse_json(std::string_view text, std::error_code& ec) {
  boost::json::parse_options options;
  options.max_depth = 1000;  // deep enough for any real session, bounded for hostile input
  boost::json::basic_parser<exact_number_handler> parser(options);
  parser.handler().stack.reset();
  boost::system::error_code bec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), bec);
  if (bec || !parser.done() || used != text.size()) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return std::nullopt;
  }
  ec.clear();
  return parser.handler().stack.release();
}

}  // namespace sessionkit
