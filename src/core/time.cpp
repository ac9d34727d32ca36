#include <sessionkit/time.hpp>

#include <algorithm>
#include <cstring>

#include <array>
#include <charconv>
#include <cstdio>

namespace sessionkit {
namespace {

using namespace std::chrono;

constexpr std::array<const char*, 7> weekday_names{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> month_names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct broken_down {
  int year;
  unsigned month, day, weekday, hour, minute, second, millisecond;
};

broken_down split(timestamp t) {
  const auto day_point = floor<days>(t);
  const year_month_day ymd{day_point};
  const hh_mm_ss hms{t - day_point};
  return {int(ymd.year()),
          unsigned(ymd.month()),
          unsigned(ymd.day()),
          weekday{day_point}.c_encoding(),
          unsigned(hms.hours().count()),
          unsigned(hms.minutes().count()),
          unsigned(hms.seconds().count()),
          unsigned(duration_cast<milliseconds>(hms.subseconds()).count())};
}

// Reads exactly `width` digits at `pos`, advancing it.
bool read_digits(std::string_view s, std::size_t& pos, std::size_t width, int& out) {
  if (pos + width > s.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += width;
  out = value;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

std::optional<timestamp> make_time(int y, int mo, int d, int h, int mi, int sec, int ms) {
  const year_month_day ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
  if (!ymd.ok() || h > 24 || mi > 59 || sec > 59) return std::nullopt;
  if (h == 24 && (mi != 0 || sec != 0 || ms != 0)) return std::nullopt;
  return timestamp{sys_days{ymd}} + hours{h} + minutes{mi} + seconds{sec} + milliseconds{ms};
}

std::optional<timestamp> parse_iso(std::string_view s) {
  std::size_t pos = 0;
  int y = 0, mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0;
  if (!read_digits(s, pos, 4, y)) return std::nullopt;
  if (pos < s.size() && !(expect(s, pos, '-') && read_digits(s, pos, 2, mo))) return std::nullopt;
  if (pos < s.size() && s[pos] == '-' && !(expect(s, pos, '-') && read_digits(s, pos, 2, d)))
    return std::nullopt;
  if (pos == s.size()) return make_time(y, mo, d, 0, 0, 0, 0);  // date-only forms are UTC
  if (!expect(s, pos, 'T') || !read_digits(s, pos, 2, h) || !expect(s, pos, ':') ||
      !read_digits(s, pos, 2, mi))
    return std::nullopt;
  if (pos < s.size() && s[pos] == ':') {
    if (!expect(s, pos, ':') || !read_digits(s, pos, 2, sec)) return std::nullopt;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      // JavaScript keeps milliseconds; further digits are accepted and dropped.
      std::size_t digits = 0;
      int fraction = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (digits < 3) fraction = fraction * 10 + (s[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0) return std::nullopt;
      for (std::size_t i = digits; i < 3; ++i) fraction *= 10;
      ms = fraction;
    }
  }
  // Local-time forms (no designator) would depend on the machine's zone: refuse them.
  if (pos >= s.size()) return std::nullopt;
  int offset_minutes = 0;
  if (s[pos] == 'Z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    const int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!read_digits(s, pos, 2, oh) || !expect(s, pos, ':') || !read_digits(s, pos, 2, om))
      return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  auto t = make_time(y, mo, d, h, mi, sec, ms);
  if (!t) return std::nullopt;
  return *t - minutes{offset_minutes};
}

// "Thu, 01 Jan 1970 00:00:00 GMT"
std::optional<timestamp> parse_imf(std::string_view s) {
  if (s.size() != 29 || s.substr(3, 2) != ", " || s.substr(25) != " GMT") return std::nullopt;
  std::size_t pos = 5;
  int d = 0, y = 0, h = 0, mi = 0, sec = 0;
  if (!read_digits(s, pos, 2, d) || !expect(s, pos, ' ')) return std::nullopt;
  int mo = 0;
  for (int i = 0; i < 12; ++i)
    if (s.substr(pos, 3) == month_names[std::size_t(i)]) mo = i + 1;
  if (mo == 0) return std::nullopt;
  pos += 3;
  if (!expect(s, pos, ' ') || !read_digits(s, pos, 4, y) || !expect(s, pos, ' ') ||
      !read_digits(s, pos, 2, h) || !expect(s, pos, ':') || !read_digits(s, pos, 2, mi) ||
      !expect(s, pos, ':') || !read_digits(s, pos, 2, sec))
    return std::nullopt;
  return make_time(y, mo, d, h, mi, sec, 0);
}

}  // namespace

timestamp now() noexcept { return floor<milliseconds>(system_clock::now()); }

namespace {

void append_digits(std::string& out, unsigned value, int width) {
  char digits[4];
  for (int i = width - 1; i >= 0; --i) {
    digits[i] = char('0' + value % 10);
    value /= 10;
  }
  out.append(digits, std::size_t(width));
}

}  // namespace

// Hand-formatted for the years cookies use (the hot path: every Set-Cookie and stored record);
// snprintf for the rest, which keeps the historical output for odd years.
void append_http_date(std::string& out, timestamp t) {
  const auto b = split(t);
  if (b.year < 0 || b.year > 9999) {
    char buffer[64];
    const int n = std::snprintf(buffer, sizeof buffer, "%s, %02u %s %04d %02u:%02u:%02u GMT",
                                weekday_names[b.weekday], b.day, month_names[b.month - 1], b.year,
                                b.hour, b.minute, b.second);
    out.append(buffer, std::size_t(n));
    return;
  }
  out.append(weekday_names[b.weekday], 3).append(", ");
  append_digits(out, b.day, 2);
  out.push_back(' ');
  out.append(month_names[b.month - 1], 3).push_back(' ');
  append_digits(out, unsigned(b.year), 4);
  out.push_back(' ');
  append_digits(out, b.hour, 2);
  out.push_back(':');
  append_digits(out, b.minute, 2);
  out.push_back(':');
  append_digits(out, b.second, 2);
  out.append(" GMT");
}

namespace {

char* write_digits(char* out, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = char('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

}  // namespace

std::size_t write_iso_date(char* out, timestamp t) {
  const auto b = split(t);
  if (b.year < 0 || b.year > 9999) {
    char buffer[64];
    const int n = std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", b.year,
                                b.month, b.day, b.hour, b.minute, b.second, b.millisecond);
    const std::size_t size = std::min<std::size_t>(std::size_t(n), max_iso_date_size);
    std::memcpy(out, buffer, size);
    return size;
  }
  char* p = write_digits(out, unsigned(b.year), 4);
  *p++ = '-';
  p = write_digits(p, b.month, 2);
  *p++ = '-';
  p = write_digits(p, b.day, 2);
  *p++ = 'T';
  p = write_digits(p, b.hour, 2);
  *p++ = ':';
  p = write_digits(p, b.minute, 2);
  *p++ = ':';
  p = write_digits(p, b.second, 2);
  *p++ = '.';
  p = write_digits(p, b.millisecond, 3);
  *p++ = 'Z';
  return std::size_t(p - out);
}

void append_iso_date(std::string& out, timestamp t) {
  char buffer[max_iso_date_size];
  out.append(buffer, write_iso_date(buffer, t));
}

std::string format_http_date(timestamp t) {
  std::string out;
  out.reserve(29);
  append_http_date(out, t);
  return out;
}

std::string format_iso_date(timestamp t) {
  std::string out;
  out.reserve(24);
  append_iso_date(out, t);
  return out;
}

std::optional<timestamp> parse_date(std::string_view text) noexcept {
  if (text.size() >= 4 && text[0] >= '0' && text[0] <= '9') return parse_iso(text);
  return parse_imf(text);
}

}  // namespace sessionkit
