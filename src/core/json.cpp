#include <sessionkit/json.hpp>

#include "detail/plain_json.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <functional>
#include <vector>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <cstring>

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
  // Bytes that are escaped or may start a lone surrogate (0xED): most strings (keys, ids, user
  // names) have none and are copied in one append after a table scan.
  static constexpr auto needs_care = [] {
    std::array<bool, 256> t{};
    for (unsigned c = 0; c < 0x20; ++c) t[c] = true;
    t['"'] = t['\\'] = t[0xED] = true;
    return t;
  }();
  if (std::none_of(text.begin(), text.end(), [](char c) { return needs_care[static_cast<unsigned char>(c)]; })) {
    const std::size_t at = out.size();
    out.resize(at + text.size() + 2);  // one call: the quotes and the text written in place
    char* p = out.data() + at;
    p[0] = '"';
    if (!text.empty()) std::memcpy(p + 1, text.data(), text.size());
    p[text.size() + 1] = '"';
    return;
  }
  out.push_back('"');
  std::size_t run = 0;  // start of the pending unescaped run
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0xED && i + 2 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xE0) == 0xA0) {
      // A lone surrogate in WTF-8 (ED A0..BF xx): JSON.stringify writes it as \udxxx.
      out.append(text, run, i - run);
      const unsigned cp = 0xD000u | ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
                          (static_cast<unsigned char>(text[i + 2]) & 0x3Fu);
      out += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4) out.push_back(hex[(cp >> shift) & 0xF]);
      i += 2;
      run = i + 1;
      continue;
    }
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

bool is_array_index(std::string_view key) noexcept {
  if (key.empty() || key.size() > 10) return false;
  if (key.size() > 1 && key[0] == '0') return false;
  std::uint64_t v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + std::uint64_t(c - '0');
  }
  return v <= 4294967294ULL;
}

namespace {

std::uint64_t index_value(std::string_view key) {
  std::uint64_t v = 0;
  for (char c : key) v = v * 10 + std::uint64_t(c - '0');
  return v;
}

template <class Integer>
void append_integer(std::string& out, Integer value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

}  // namespace

void append_json_member(std::string& out, bool& first, std::string_view key, const boost::json::value& v) {
  if (!first) out.push_back(',');
  first = false;
  append_json_string(out, key);
  out.push_back(':');
  stringify_to(out, v);
}

void for_each_member_js_order(const boost::json::object& o,
                              const std::function<void(std::string_view, const boost::json::value&)>& f) {
  bool any_index = false;
  for (const auto& m : o) {
    if (is_array_index(m.key())) {
      any_index = true;
      break;
    }
  }
  if (!any_index) {
    for (const auto& m : o) f(m.key(), m.value());
    return;
  }
  std::vector<const boost::json::key_value_pair*> indices;
  for (const auto& m : o)
    if (is_array_index(m.key())) indices.push_back(&m);
  std::sort(indices.begin(), indices.end(),
            [](auto* a, auto* b) { return index_value(a->key()) < index_value(b->key()); });
  for (auto* m : indices) f(m->key(), m->value());
  for (const auto& m : o)
    if (!is_array_index(m.key())) f(m.key(), m.value());
}

void stringify_to(std::string& out, const boost::json::object& o) {
  out.push_back('{');
  bool first = true;
  for_each_member_js_order(o, [&](std::string_view key, const boost::json::value& v) { append_json_member(out, first, key, v); });
  out.push_back('}');
}

void stringify_to(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: out += "null"; break;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case boost::json::kind::int64: {
      const std::int64_t i = v.get_int64();
      if (i > -max_safe_integer && i < max_safe_integer) append_integer(out, i);
      else append_js_number(out, double(i));
      break;
    }
    case boost::json::kind::uint64: {
      const std::uint64_t u = v.get_uint64();
      if (u < std::uint64_t(max_safe_integer)) append_integer(out, u);
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

  // `temp` holds the values being built before they become objects and arrays: a buffer on the
  // caller's stack spares the heap for small documents.
  exact_number_handler(unsigned char* temp, std::size_t temp_size) : stack({}, temp, temp_size) {}

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

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The code unit of a `\uXXXX` escape at `pos` (pointing at the backslash), or -1.
int escape_at(std::string_view s, std::size_t pos) {
  if (pos + 6 > s.size() || s[pos] != '\\' || s[pos + 1] != 'u') return -1;
  int v = 0;
  for (std::size_t k = 2; k < 6; ++k) {
    const int d = hex_digit(s[pos + k]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// Length of the well-formed UTF-8 sequence at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) n = 3;
  else if (c >= 0xF0 && c <= 0xF4) n = 4;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  if (c == 0xE0 && b(i + 1) < 0xA0) return 0;
  if (c == 0xED && b(i + 1) >= 0xA0) return 0;
  if (c == 0xF0 && b(i + 1) < 0x90) return 0;
  if (c == 0xF4 && b(i + 1) >= 0x90) return 0;
  return n;
}

// Rewrites what Node accepts and Boost.JSON does not into a form both agree on: invalid UTF-8
// becomes U+FFFD (Node decodes stored bytes that way), and a `\uD8xx` escape that is not half of a
// pair becomes the surrogate's WTF-8 bytes (kept, and written back as the same escape).
// Returns nothing when the text needs no change (the common case).
std::optional<std::string> normalise_for_parse(std::string_view s) {
  bool needed = false;
  for (std::size_t i = 0; i < s.size() && !needed; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) needed = true;
      else i += n - 1;
    } else if (c == '\\' && i + 1 < s.size()) {
      const int u = escape_at(s, i);
      if (u >= 0xD800 && u <= 0xDFFF) needed = true;
      ++i;
    }
  }
  if (!needed) return std::nullopt;
  std::string out;
  out.reserve(s.size() + 8);
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(s, i, n);
        i += n;
      }
      continue;
    }
    if (c == '\\' && i + 1 < s.size()) {
      const int u = escape_at(s, i);
      if (u >= 0xD800 && u <= 0xDBFF) {
        const int low = escape_at(s, i + 6);
        if (low >= 0xDC00 && low <= 0xDFFF) {  // a proper pair: leave it to the parser
          out.append(s, i, 12);
          i += 12;
          continue;
        }
      }
      if (u >= 0xD800 && u <= 0xDFFF) {
        out.push_back(char(0xE0 | (u >> 12)));
        out.push_back(char(0x80 | ((u >> 6) & 0x3F)));
        out.push_back(char(0x80 | (u & 0x3F)));
        i += 6;
        continue;
      }
      out.append(s, i, 2);  // any other escape, including \\ before a 'u'
      i += 2;
      continue;
    }
    out.push_back(char(c));
    ++i;
  }
  return out;
}

}  // namespace

namespace detail {

std::optional<boost::json::value> parse_plain_flat_object(std::string_view text) {
  boost::json::object object;
  if (!parse_plain_flat_object_into(text, object)) return std::nullopt;
  return boost::json::value(std::move(object));
}

bool parse_plain_flat_object_into(std::string_view text, boost::json::object& object) {
  struct member {
    std::string_view key;
    enum { string, integer, true_, false_, null } kind;
    std::string_view text;
    long long number;
  };
  constexpr std::size_t max_members = 16;
  std::array<member, max_members> members;
  std::size_t n = 0;
  detail::plain_reader in(text);
  if (!in.take('{')) return false;
  while (!in.take('}')) {
    if (n == max_members || (n > 0 && !in.take(','))) return false;
    member m{};
    const auto key = in.string();
    if (!key || !in.take(':')) return false;
    m.key = *key;
    for (std::size_t i = 0; i < n; ++i)
      if (members[i].key == m.key) return false;  // duplicates: the general parser decides
    if (const auto s = in.string()) {
      m.kind = member::string;
      m.text = *s;
    } else {
      switch (in.boolean_or_null()) {
        case detail::plain_reader::literal::true_: m.kind = member::true_; break;
        case detail::plain_reader::literal::false_: m.kind = member::false_; break;
        case detail::plain_reader::literal::null: m.kind = member::null; break;
        case detail::plain_reader::literal::none: {
          const auto number = in.integer(false);  // -0 is a double to the general parser
          if (!number) return false;
          m.kind = member::integer;
          m.number = *number;
        }
      }
    }
    members[n++] = m;
  }
  if (!in.at_end()) return false;
  object.clear();
  object.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const member& m = members[i];
    switch (m.kind) {
      case member::string: object.emplace(m.key, boost::json::string_view(m.text.data(), m.text.size())); break;
      case member::integer: object.emplace(m.key, std::int64_t(m.number)); break;
      case member::true_: object.emplace(m.key, true); break;
      case member::false_: object.emplace(m.key, false); break;
      case member::null: object.emplace(m.key, nullptr); break;
    }
  }
  return true;
}

}  // namespace detail

std::optional<boost::json::value> parse_json(std::string_view raw_text, std::error_code& ec) {
  if (auto plain = detail::parse_plain_flat_object(raw_text)) {
    ec.clear();
    return plain;
  }
  const std::optional<std::string> normalised = normalise_for_parse(raw_text);
  const std::string_view text = normalised ? std::string_view(*normalised) : raw_text;
  boost::json::parse_options options;
  options.allow_invalid_utf8 = bool(normalised);  // only the surrogates' WTF-8 remains
  options.max_depth = 1000;  // deep enough for any real session, bounded for hostile input
  unsigned char temp[2048];
  boost::json::basic_parser<exact_number_handler> parser(options, temp, sizeof temp);
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
