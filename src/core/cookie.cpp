#include <sessionkit/cookie.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace sessionkit {
namespace {

constexpr bool is_blank(char c) { return c == ' ' || c == '\t'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads one `%XX` at `pos`; -1 when it is not one.
int read_escape(std::string_view s, std::size_t pos) {
  if (pos + 3 > s.size() || s[pos] != '%') return -1;
  const int hi = hex_value(s[pos + 1]);
  const int lo = hex_value(s[pos + 2]);
  return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

// `tryDecode(decode(value))` of cookie 0.7.2: decode only when `%` is present, keep raw on error.
void decode_value_into(std::string& out, std::string_view raw);

std::string decode_value(std::string_view raw) {
  std::string out;
  decode_value_into(out, raw);
  return out;
}

// Calls `visit(name, raw_value)` for each pair in header order, exactly as cookie.parse splits.
// `visit` returns false to stop early.
template <class Visit>
void for_each_pair(std::string_view str, Visit&& visit) {
  const std::size_t len = str.size();
  if (len < 2) return;
  std::size_t index = 0;
  do {
    const std::size_t eq = str.find('=', index);
    if (eq == std::string_view::npos) break;
    std::size_t end = str.find(';', index);
    if (end == std::string_view::npos) {
      end = len;
    } else if (eq > end) {
      // This segment has no '='; restart just after the last ';' before the '='.
      index = str.rfind(';', eq - 1) + 1;
      continue;
    }
    std::size_t key_start = index;
    while (key_start < eq && is_blank(str[key_start])) ++key_start;
    std::size_t key_end = eq;
    while (key_end > key_start && is_blank(str[key_end - 1])) --key_end;
    std::size_t value_start = eq + 1;
    while (value_start < end && is_blank(str[value_start])) ++value_start;
    std::size_t value_end = end;
    while (value_end > value_start && is_blank(str[value_end - 1])) --value_end;
    std::string_view value;
    if (value_start < len && value_end > 0 && str[value_start] == '"' &&
        str[value_end - 1] == '"' && value_end > value_start) {
      // One pair of quotes is stripped; a lone `"` leaves an empty value, as slice() does.
      value = value_end - value_start >= 2 ? str.substr(value_start + 1, value_end - value_start - 2)
                                           : std::string_view{};
    } else {
      value = str.substr(value_start, value_end - value_start);
    }
    if (!visit(str.substr(key_start, key_end - key_start), value)) return;
    index = end + 1;
  } while (index < len);
}

// RFC 7230 token characters.
constexpr bool is_token_char(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

constexpr bool is_uri_unreserved(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '-': case '_': case '.': case '!': case '~': case '*': case '\'': case '(': case ')':
      return true;
    default:
      return false;
  }
}

// cookie 0.7.2 domainValueRegExp: dot-separated labels of [a-z0-9-], optional leading dot.
bool is_valid_domain(std::string_view d) {
  std::size_t pos = 0;
  if (!d.empty() && d[0] == '.') pos = 1;
  if (pos >= d.size()) return false;
  while (true) {
    const std::size_t dot = d.find('.', pos);
    const std::string_view label = d.substr(pos, dot == std::string_view::npos ? d.npos : dot - pos);
    if (label.empty() || label.size() > 63) return false;
    for (std::size_t i = 0; i < label.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(label[i]);
      const bool alnum = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
      if (!alnum && !(c == '-' && i != 0 && i + 1 != label.size())) return false;
    }
    if (dot == std::string_view::npos) return true;
    pos = dot + 1;
  }
}

// cookie 0.7.2 pathValueRegExp: printable ASCII except ';' (0x3B) and '<' (0x3C).
bool is_valid_path(std::string_view p) {
  return std::all_of(p.begin(), p.end(), [](char ch) {
    const unsigned char c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c <= 0x7E && c != ';' && c != '<';
  });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  return out;
}

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not well formed.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;  // surrogates are not characters
  return n;
}

}  // namespace

namespace {

// decodeURIComponent into `out`; false (and `out` unspecified) where JavaScript throws.
bool decode_uri_component_into(std::string& out, std::string_view s) {
  out.clear();
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    // Copy the run up to the next escape in one go (cookie values are mostly plain).
    const std::size_t escape = s.find('%', i);
    out.append(s.substr(i, escape == std::string_view::npos ? s.npos : escape - i));
    if (escape == std::string_view::npos) break;
    i = escape;
    const int first = read_escape(s, i);
    if (first < 0) return false;
    if (first < 0x80) {
      out.push_back(char(first));
      i += 3;
      continue;
    }
    // A multi-byte character must be spelled entirely as escapes and be well-formed UTF-8.
    std::size_t n = 0;
    if (first >= 0xC2 && first <= 0xDF) n = 2;
    else if (first >= 0xE0 && first <= 0xEF) n = 3;
    else if (first >= 0xF0 && first <= 0xF4) n = 4;
    else return false;
    char bytes[4] = {char(first)};
    for (std::size_t k = 1; k < n; ++k) {
      const int next = read_escape(s, i + 3 * k);
      if (next < 0 || (next & 0xC0) != 0x80) return false;
      bytes[k] = char(next);
    }
    if (utf8_sequence_length(std::string_view(bytes, n), 0) != n) return false;
    out.append(bytes, n);
    i += 3 * n;
  }
  return true;
}

// Node reads header bytes as Latin-1: a raw byte 0x80..0xFF is the character U+0080..U+00FF,
// which is two bytes in UTF-8 (and so in the HMAC input when the value is verified).
bool has_high_bytes(std::string_view s) {
  // Eight bytes at a time: every request's cookie value goes through here.
  std::uint64_t high = 0;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    high |= word;
  }
  for (; i < s.size(); ++i) high |= static_cast<unsigned char>(s[i]);
  return (high & 0x8080808080808080ULL) != 0;
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x80) {
      out.push_back(c);
    } else {
      out.push_back(char(0xC0 | (b >> 6)));
      out.push_back(char(0x80 | (b & 0x3F)));
    }
  }
  return out;
}

void decode_value_into(std::string& out, std::string_view raw) {
  if (has_high_bytes(raw)) {  // rare: raw (not percent-encoded) non-ASCII bytes
    const std::string text = latin1_to_utf8(raw);
    if (text.find('%') == std::string::npos || !decode_uri_component_into(out, text)) out.assign(text);
    return;
  }
  if (raw.find('%') == std::string_view::npos || !decode_uri_component_into(out, raw)) out.assign(raw);
}

}  // namespace

std::optional<std::string> decode_uri_component(std::string_view s) {
  std::string out;
  if (!decode_uri_component_into(out, s)) return std::nullopt;
  return out;
}

void append_encoded_uri_component(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  static constexpr auto unreserved = [] {
    std::array<bool, 256> table{};
    for (unsigned c = 0; c < 128; ++c) table[c] = is_uri_unreserved(static_cast<unsigned char>(c));
    return table;
  }();
  std::size_t i = 0;
  while (i < s.size()) {
    // Copy a run of characters that stay as they are in one go (most of a signed id).
    std::size_t run = i;
    while (run < s.size() && unreserved[static_cast<unsigned char>(s[run])]) ++run;
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : utf8_sequence_length(s, i);
    if (n == 0) throw std::invalid_argument("URI malformed");
    for (std::size_t k = 0; k < n; ++k) {
      const unsigned char b = static_cast<unsigned char>(s[i + k]);
      const char escape[3] = {'%', hex[b >> 4], hex[b & 0xF]};
      out.append(escape, 3);
    }
    i += n;
  }
}

std::string encode_uri_component(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  append_encoded_uri_component(out, s);
  return out;
}

std::vector<cookie_pair> parse_cookie_header(std::string_view header) {
  std::vector<cookie_pair> pairs;
  for_each_pair(header, [&](std::string_view name, std::string_view value) {
    const bool seen = std::any_of(pairs.begin(), pairs.end(),
                                  [&](const cookie_pair& p) { return p.name == name; });
    if (!seen) pairs.push_back({std::string(name), decode_value(value)});
    return true;
  });
  return pairs;
}

std::optional<std::string> find_cookie(std::string_view header, std::string_view name) {
  std::string value;
  if (!find_cookie(header, name, value)) return std::nullopt;
  return value;
}

bool find_cookie(std::string_view header, std::string_view name, std::string& value) {
  bool found = false;
  for_each_pair(header, [&](std::string_view n, std::string_view raw) {
    if (n != name) return true;
    decode_value_into(value, raw);
    found = true;
    return false;  // the first occurrence wins
  });
  return found;
}

bool is_valid_cookie_name(std::string_view name) noexcept {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return is_token_char(static_cast<unsigned char>(c));
  });
}

std::string serialize_set_cookie(std::string_view name, std::string_view value,
                                 const set_cookie_options& opt) {
  if (!is_valid_cookie_name(name)) throw invalid_cookie("argument name is invalid");
  std::string out;
  out.reserve(name.size() + value.size() + value.size() / 4 + 96);
  out.append(name).push_back('=');
  try {
    append_encoded_uri_component(out, value);
  } catch (const std::invalid_argument&) {
    throw invalid_cookie("argument val is invalid");
  }
  if (opt.max_age_seconds) out.append("; Max-Age=").append(std::to_string(*opt.max_age_seconds));
  if (opt.domain && !opt.domain->empty()) {
    if (!is_valid_domain(*opt.domain)) throw invalid_cookie("option domain is invalid");
    out.append("; Domain=").append(*opt.domain);
  }
  if (opt.path && !opt.path->empty()) {
    if (!is_valid_path(*opt.path)) throw invalid_cookie("option path is invalid");
    out.append("; Path=").append(*opt.path);
  }
  if (opt.expires) {
    out.append("; Expires=");
    append_http_date(out, *opt.expires);
  }
  if (opt.http_only) out.append("; HttpOnly");
  if (opt.secure) out.append("; Secure");
  if (opt.partitioned) out.append("; Partitioned");
  if (opt.priority && !opt.priority->empty()) {
    const std::string p = lower(*opt.priority);
    if (p == "low") out.append("; Priority=Low");
    else if (p == "medium") out.append("; Priority=Medium");
    else if (p == "high") out.append("; Priority=High");
    else throw invalid_cookie("option priority is invalid");
  }
  if (const bool* b = std::get_if<bool>(&opt.same_site); b && *b) {
    out.append("; SameSite=Strict");
  } else if (const std::string* s = std::get_if<std::string>(&opt.same_site); s && !s->empty()) {
    const std::string v = lower(*s);
    if (v == "lax") out.append("; SameSite=Lax");
    else if (v == "strict") out.append("; SameSite=Strict");
    else if (v == "none") out.append("; SameSite=None");
    else throw invalid_cookie("option sameSite is invalid");
  }
  return out;
}

}  // namespace sessionkit
