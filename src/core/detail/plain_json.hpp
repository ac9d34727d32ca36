#pragma once
// A reader for the plain JSON that `JSON.stringify` writes for small flat values (no spaces, no
// escapes, short integers): the fast paths for stored cookies and small session data. Anything
// else makes it fail, and the caller falls back to the general parser.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string_view>

namespace sessionkit::detail {

class plain_reader {
 public:
  explicit plain_reader(std::string_view text) : text_(text) {}

  bool at_end() const { return pos_ == text_.size(); }
  bool take(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  bool peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool take_word(std::string_view w) {
    if (text_.size() - pos_ < w.size()) return false;
    for (std::size_t i = 0; i < w.size(); ++i)  // short words: no memcmp call
      if (text_[pos_ + i] != w[i]) return false;
    pos_ += w.size();
    return true;
  }

  // A string of printable ASCII without escapes.
  std::optional<std::string_view> string() {
    if (!take('"')) return std::nullopt;
    const std::size_t start = pos_;
    while (pos_ < text_.size()) {
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') return text_.substr(start, pos_++ - start);
      if (c < 0x20 || c >= 0x7F || c == '\\') return std::nullopt;
      ++pos_;
    }
    return std::nullopt;
  }

  // An integer of at most 15 digits (exact in a double, inside Date's range). `-0` is read as 0.
  std::optional<long long> integer(bool allow_negative_zero = true) {
    const bool negative = take('-');
    if (negative && !allow_negative_zero && peek('0')) return std::nullopt;
    const std::size_t start = pos_;
    long long v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (pos_ - start == 15) return std::nullopt;  // longer: the general parser (and no overflow)
      v = v * 10 + (text_[pos_++] - '0');
    }
    const std::size_t digits = pos_ - start;
    if (digits == 0 || (digits > 1 && text_[start] == '0')) return std::nullopt;
    if (peek('.') || peek('e') || peek('E')) return std::nullopt;
    return negative ? -v : v;
  }

  enum class literal { none, true_, false_, null };
  // true, false or null.
  literal boolean_or_null() {
    if (pos_ >= text_.size()) return literal::none;
    switch (text_[pos_]) {
      case 't': return take_word("true") ? literal::true_ : literal::none;
      case 'f': return take_word("false") ? literal::false_ : literal::none;
      case 'n': return take_word("null") ? literal::null : literal::none;
      default: return literal::none;
    }
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};


// The usual small session data, a flat object of short strings, integers, booleans and nulls
// (`{"count":1}`), read without the general parser; the values are what it would build. Such a
// text is also exactly what JSON.stringify writes for them, unless it has array-index keys
// (which JavaScript puts first). Returns nothing for any other text.
std::optional<boost::json::value> parse_plain_flat_object(std::string_view text);

// The same, into `out` (its old members replaced; unchanged when it returns false): no
// object moved or destroyed on the way, for the record codec's fast path.
bool parse_plain_flat_object_into(std::string_view text, boost::json::object& out);

}  // namespace sessionkit::detail
