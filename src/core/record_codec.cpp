// The record codec, part 1 (record.hpp): the stored record's layout and its fast paths.

#include <sessionkit/record.hpp>

#include <sessionkit/json.hpp>

#include "detail/plain_json.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace sessionkit::record {
namespace {

constexpr std::string_view head = "{\"cookie\":";
constexpr std::size_t iso_size = 24;  // 2026-11-22T00:37:25.123Z
constexpr std::size_t npos = std::string_view::npos;

// Keys express-session drops when it revives a stored record (`prop in this` on a Session):
// the Session's own members and those of Object.prototype.
bool is_reserved_key(std::string_view key) {
  static constexpr std::array<std::string_view, 20> reserved{
      "id", "req", "touch", "resetMaxAge", "save", "reload", "destroy", "regenerate", "__proto__",
      "constructor", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable",
      "toLocaleString", "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__"};
  return std::find(reserved.begin(), reserved.end(), key) != reserved.end();
}

bool has_array_index(const boost::json::object& o) {
  return std::any_of(o.begin(), o.end(), [](const auto& m) { return is_array_index(m.key()); });
}

void drop_reserved_keys(boost::json::object& data) {
  for (auto it = data.begin(); it != data.end();) {
    if (is_reserved_key(it->key())) it = data.stable_erase(it);
    else ++it;
  }
}

// Reads the plain cookie object at the start of a record into `out`; returns its length, or 0
// when it is not there in the plain form. An application's sessions share their cookie's shape
// and differ in the expiry only, so each thread remembers the last cookie it read and compares
// the text with it instead of parsing (only the expiry's 24 characters are read).
std::size_t read_leading_cookie(std::string_view json, session_cookie& out) {
  if (json.substr(0, head.size()) != head) return 0;
  const std::string_view body = json.substr(head.size());
  struct remembered {
    std::string text;           // the cookie object as last read
    std::size_t iso_at = npos;  // where its expiry's ISO text starts, if it has one
    session_cookie cookie;
  };
  thread_local remembered last;
  const std::string_view known = last.text;
  if (!known.empty() && body.size() >= known.size()) {
    if (last.iso_at == npos) {
      if (body.substr(0, known.size()) == known) {
        out = last.cookie;
        return known.size();
      }
    } else if (body.substr(0, last.iso_at) == known.substr(0, last.iso_at) &&
               body.substr(last.iso_at + iso_size, known.size() - last.iso_at - iso_size) ==
                   known.substr(last.iso_at + iso_size)) {
      // Whatever parse_date accepts there holds no quote or backslash: the shape is the same.
      if (const auto when = parse_date(body.substr(last.iso_at, iso_size))) {
        out = last.cookie;
        out.expires = *when;
        return known.size();
      }
    }
  }
  const auto cookie_text = leading_cookie(json);
  if (!cookie_text) return 0;
  session_cookie revived;
  if (!read_plain_cookie(*cookie_text, revived)) return 0;
  last.text.assign(*cookie_text);
  last.iso_at = npos;
  constexpr std::string_view expires_key = "\"expires\":\"";
  if (const std::size_t at = cookie_text->find(expires_key);
      at != npos && at + expires_key.size() + iso_size < cookie_text->size() &&
      (*cookie_text)[at + expires_key.size() + iso_size] == '"')
    last.iso_at = at + expires_key.size();
  last.cookie = revived;
  out = std::move(revived);
  return cookie_text->size();
}

// The usual record, `{"cookie":{...plain...},...data}`: the cookie is read straight from its
// text and only the data goes through the JSON parser (most of a small record is its cookie).
bool decode_plain(std::string_view json, parts& out) {
  session_cookie revived;
  const std::size_t cookie_size = read_leading_cookie(json, revived);
  if (cookie_size == 0) return false;
  const std::string_view rest = json.substr(head.size() + cookie_size);
  std::string text = "{}";
  bool canonical = true;  // `text` is what JSON.stringify writes for the data
  if (rest != "}") {
    if (rest.size() < 3 || rest[0] != ',' || rest[1] == '}') return false;  // `,}` is no JSON
    text.reserve(rest.size());
    text.resize(1);
    text.append(rest.substr(1));
    // Small flat data is read straight into the session's object (no object moved on the way).
    if (detail::parse_plain_flat_object_into(text, out.data)) {
      canonical = !has_array_index(out.data);
    } else {
      std::error_code ec;
      auto parsed = parse_json(text, ec);
      if (!parsed || !parsed->is_object()) return false;
      out.data = std::move(parsed->get_object());
      canonical = false;
    }
    if (out.data.contains("cookie")) return false;  // a second `cookie`: the general path decides
  } else {
    out.data.clear();
  }
  // The snapshot is JSON.stringify of the data as stored: the text itself when in that form.
  out.stored_data_text = canonical ? std::move(text) : data_text(out.data);
  drop_reserved_keys(out.data);
  out.cookie = std::move(revived);
  out.keys_before_cookie.clear();
  return true;
}

// The buffer give_back() keeps for the next encode on this thread.
std::string& spare_buffer() noexcept {
  thread_local std::string spare;
  return spare;
}

// An empty string, with the spare buffer's capacity when there is one.
std::string take_spare_buffer() noexcept {
  std::string out = std::move(spare_buffer());
  spare_buffer().clear();
  out.clear();
  return out;
}

}  // namespace

void give_back(std::string&& record_text) noexcept {
  constexpr std::size_t max_kept = 64 * 1024;
  std::string& spare = spare_buffer();
  if (record_text.capacity() > spare.capacity() && record_text.capacity() <= max_kept) spare.swap(record_text);
}

std::string_view prefix() noexcept { return head; }

std::string data_text(const boost::json::object& data) {
  std::string out;  // small data stays in the string's own buffer
  out.push_back('{');
  bool first = true;
  auto add = [&](std::string_view key, const boost::json::value& v) {
    if (key != "cookie") append_json_member(out, first, key, v);
  };
  if (!has_array_index(data)) {
    for (const auto& m : data) add(m.key(), m.value());  // insertion order is JavaScript's
  } else {
    for_each_member_js_order(data, add);
  }
  out.push_back('}');
  return out;
}

bool decode(std::string_view json, parts& out) {
  if (decode_plain(json, out)) return true;
  std::error_code ec;
  auto parsed = parse_json(json, ec);
  if (!parsed || !parsed->is_object()) return false;
  auto& stored = parsed->get_object();
  const auto* cookie = stored.if_contains("cookie");
  if (!cookie || !cookie->is_object()) return false;
  session_cookie revived;
  if (!read_cookie(cookie->get_object(), revived)) return false;
  out.stored_data_text = data_text(stored);
  out.keys_before_cookie.clear();
  for (const auto& member : stored) {
    if (member.key() == "cookie") break;
    if (!is_array_index(member.key()) && !is_reserved_key(member.key()))
      out.keys_before_cookie.emplace_back(member.key());
  }
  // The record becomes the data: `cookie` and reserved keys leave, the rest keeps its order.
  stored.stable_erase("cookie");
  drop_reserved_keys(stored);
  out.cookie = std::move(revived);
  out.data = std::move(stored);
  return true;
}

std::string encode(const session_cookie& cookie, const boost::json::object& data,
                   const std::vector<std::string>& keys_before_cookie, const std::string* text) {
  // JSON.stringify of the session: array-index keys first (ascending), then `cookie` and the
  // other keys in insertion order (`cookie` after the keys a loaded record had before it).
  std::string out = take_spare_buffer();
  if (text && keys_before_cookie.empty() && text->size() >= 2 && !has_array_index(data)) {
    // The usual shape: `cookie` first, then the data exactly as its snapshot has it.
    out.reserve(text->size() + 128);
    out += head;
    append_cookie(out, cookie);
    if (text->size() > 2) out.push_back(',');
    out.append(*text, 1);
    return out;
  }
  out.reserve(128);
  out.push_back('{');
  bool first = true;
  bool cookie_written = false;
  auto write_cookie = [&] {
    if (!first) out.push_back(',');
    first = false;
    out.append(head.substr(1));
    append_cookie(out, cookie);
    cookie_written = true;
  };
  for_each_member_js_order(data, [&](std::string_view key, const boost::json::value& v) {
    if (key == "cookie") return;
    if (!cookie_written && !is_array_index(key) &&
        std::find(keys_before_cookie.begin(), keys_before_cookie.end(), key) == keys_before_cookie.end())
      write_cookie();
    append_json_member(out, first, key, v);
  });
  if (!cookie_written) write_cookie();
  out.push_back('}');
  return out;
}

std::optional<std::string_view> leading_cookie(std::string_view json) noexcept {
  if (json.size() <= head.size() || json.substr(0, head.size()) != head || json[head.size()] != '{')
    return std::nullopt;
  // Walk the object until its braces balance; strings are skipped with memchr to their
  // closing quote (one not preceded by an odd number of backslashes).
  const std::size_t start = head.size();
  const char* const begin = json.data();
  const char* const end = begin + json.size();
  int depth = 0;
  for (const char* p = begin + start; p < end; ++p) {
    const char c = *p;
    if (c == '"') {
      const char* q = p + 1;
      while (true) {
        q = static_cast<const char*>(std::memchr(q, '"', std::size_t(end - q)));
        if (!q) return std::nullopt;
        std::size_t backslashes = 0;
        while (q - backslashes > p + 1 && q[-1 - std::ptrdiff_t(backslashes)] == '\\') ++backslashes;
        if (backslashes % 2 == 0) break;
        ++q;
      }
      p = q;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return json.substr(start, std::size_t(p + 1 - (begin + start)));
    }
  }
  return std::nullopt;
}

std::optional<std::string> with_cookie(std::string_view stored, std::string_view fresh_cookie) {
  if (auto old = leading_cookie(stored)) {
    const std::size_t rest = old->data() + old->size() - stored.data();
    std::string out;
    out.reserve(stored.size() + fresh_cookie.size());
    out.append(head).append(fresh_cookie).append(stored.substr(rest));
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

}  // namespace sessionkit::record
